#!/usr/bin/env bash
# Chaos, as a regression suite: on the real broker and PostgreSQL, valid
# events flow with every kind of bad input among them (not JSON, missing
# fields, wrong types, invalid UTF-8, records of 1 to 12 MB), while the LLM
# (the fake server) storms 429s and 500s and PostgreSQL restarts. At the
# end: every valid event stored and published exactly once, every bad one in
# the DLQ with its error, no commit lag left, peak RSS under 512 MB, and a
# SIGTERM that exits 0 within the shutdown bound.
#   chaos.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
N="${CHAOS_EVENTS:-3000}"
start_fake_llm --latency-ms 30 --jitter-ms 20 --script '{"rules": [
  {"from_s": 2, "until_s": 6, "status": 429, "retry_after": 1},
  {"rate": 0.15, "status": 500},
  {"rate": 0.05, "status": 429, "retry_after": 1}]}'
write_config "shutdown_timeout_ms = 30000"
"$ktool" alter "$bootstrap" "$tag.raw" max.message.bytes 16777216 || { echo "alter raw failed"; exit 1; }
printf '[classifier]\nrate_limit = 60000\ndaily_limit = 1000000\n[openai]\nmax_retries = 30\nbreaker_failures = 1000\n' \
  >> "$work/dispatchd.conf"

python3 - "$work/bad.txt" <<'PY'
import json, sys
def ev(n, body="b"):
    return {"event_type": "issue", "action": "opened", "timestamp": "2024-03-01T00:00:00Z",
            "repository": {"id": 1, "name": "chaos", "full_name": "bad/chaos", "private": False},
            "issue": {"id": 8_000_000 + n, "number": n, "title": "Big %d" % n, "body": body, "state": "open",
                      "labels": [], "user": {"login": "u"}, "created_at": "2024-03-01T00:00:00Z",
                      "updated_at": "2024-03-01T00:00:00Z"}}
rows = [b"not json {", b'{"event_type":"issue"}',
        b'{"event_type":"issue","repository":{"full_name":"a/b"},"issue":{"id":"x","number":1,"title":"t"}}',
        b'{"event_type":"issue","issue":{"title":"\xff\xfe"}}', b"[1,2,3]", b"",
        b'{"event_type":"push","repository":{"full_name":"a/b"}}']
for n, mb in enumerate((1, 3, 7, 12), 1):
    rows.append(json.dumps(ev(n, "x" * (mb << 20))).encode())
with open(sys.argv[1], "wb") as f:
    for i, r in enumerate(rows):
        f.write(b"bad/chaos:issue:%d\t" % i + r + b"\n")
PY
nbad=$(wc -l < "$work/bad.txt")

start_worker w CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key
wait_until 60 metric_ge w dispatchd_partitions_assigned 3
"$root/scripts/gen-issues" $((N / 2)) > "$work/a.jsonl"
"$root/scripts/gen-issues" $((N / 2)) --start-number 100001 > "$work/b.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync chaos/one --from "$work/a.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1 &
producers=($!)
"$ktool" produce "$bootstrap" "$tag.raw" "$work/bad.txt" >/dev/null &
producers+=($!)
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync chaos/two --from "$work/b.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1 &
producers+=($!)
wait_until 120 metric_ge w dispatchd_db_rows_written_total $((N / 4))
"$root/scripts/postgres" restart >/dev/null
echo "# PostgreSQL restarted with $(metric w dispatchd_db_rows_written_total) rows written"
wait "${producers[@]}"
total=$((N + nbad))
done_all() { [ "$(metric w dispatchd_records_processed_total)" -ge "$total" ]; }
wait_until 300 done_all
settled() { [ "$(metric w dispatchd_commit_lag)" -eq 0 ] && [ "$(metric w dispatchd_incomplete_offsets)" -eq 0 ]; }
wait_until 15 settled
peak=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/${pids[w]}/status")
check "every record finished" "$total" "$(metric w dispatchd_records_processed_total)"
check "ok and dlq" "$N $nbad" \
  "$(metric w 'dispatchd_records_processed_total{result="ok"}') $(metric w 'dispatchd_records_processed_total{result="dlq"}')"
check "no commit lag left" "0 0" "$(metric w dispatchd_commit_lag) $(metric w dispatchd_incomplete_offsets)"
if [ -n "${ASAN_OPTIONS:-}" ]; then
  echo "# ASan build: peak RSS $peak MB reported, not bounded"
else
  check_le "peak RSS in MB" "$peak" 512
fi
echo "# LLM: $(curl -s "http://127.0.0.1:$fport/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], "requests", d["by_status"])')"
t0=$SECONDS
stop_worker w
check "SIGTERM exits 0" 0 "$worker_rc"
check_le "within 30 s" $((SECONDS - t0)) 30

check "every valid issue stored once" "$N $N" \
  "$(sql "SELECT count(*) || ' ' || count(DISTINCT github_issue_id) FROM dispatchai.issues")"
check "every stored issue classified by the LLM" "$N" \
  "$(sql "SELECT count(*) FROM dispatchai.enriched_issues WHERE provider = 'openai'")"
"$ktool" dump "$bootstrap" "$tag.enriched" 4000 > "$work/enriched.jsonl"
check "every valid event published exactly once" "$N $N" "$(python3 -c '
import json, sys
keys = [json.loads(l)["key"] for l in open(sys.argv[1]) if l.startswith("{\"key\"")]
print(len(keys), len(set(keys)))' "$work/enriched.jsonl")"
"$ktool" dump "$bootstrap" "$tag.dlq" 4000 > "$work/dlq.jsonl"
check "every bad record in the DLQ with its error" "$nbad" "$(python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if "\"error\"" in l and json.loads(l)["headers"].get("error")))' "$work/dlq.jsonl")"
check "errors named: oversized 4, not JSON 2, missing field 1, wrong type 2, invalid UTF-8 1, unsupported 1" \
  "4 2 1 2 1 1" "$(python3 -c '
import json, sys
errs = [json.loads(l)["headers"]["error"] for l in open(sys.argv[1]) if l.startswith("{\"key\"")]
c = lambda p: sum(e.startswith(p) for e in errs)
print(c("oversized"), c("not JSON"), c("missing field"), c("wrong type"), c("invalid UTF-8"), c("unsupported"))' "$work/dlq.jsonl")"
finish
