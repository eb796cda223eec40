#!/usr/bin/env bash
# Records of any size finish, and bad input leaves no text behind: on the
# real broker, records of 1.02 MB and 10 MB (the input topic takes 16 MB)
# go to the DLQ cut to what the DLQ takes, with original_size and
# truncated headers; a record whose enriched event the enriched topic
# refuses (broker-side size limit) goes to the DLQ instead of retrying
# forever; the normal records of the same keys after them are classified
# and published; no partition is left with commit lag; a malformed record's
# distinctive words appear neither in the logs nor in the DLQ headers; and
# SIGTERM exits 0 in bounded time.
#   oversized.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config
"$ktool" alter "$bootstrap" "$tag.raw" max.message.bytes 16777216 || { echo "alter raw failed"; exit 1; }
"$ktool" alter "$bootstrap" "$tag.enriched" max.message.bytes 60000 || { echo "alter enriched failed"; exit 1; }

python3 - "$work/records.txt" <<'PY'
import base64, json, os, sys
def event(number, minute, body_bytes=10, noise=False):
    return {"event_type": "issue", "action": "edited", "timestamp": "2024-03-01T00:00:00Z",
            "repository": {"id": 1, "name": "repo", "full_name": "big/repo", "private": False},
            "issue": {"id": 9_000_000 + number, "number": number, "title": "Issue %d version %d" % (number, minute),
                      "body": base64.b64encode(os.urandom(body_bytes * 3 // 4)).decode() if noise else "b" * body_bytes, "state": "open", "labels": [], "user": {"login": "u"},
                      "created_at": "2024-03-01T00:00:00Z", "updated_at": "2024-03-01T00:%02d:00Z" % minute}}
rows = [
    ("big/repo:issue:1", event(1, 1)),
    ("big/repo:issue:1", event(1, 2, 1_069_547)),      # 1.02 MB
    ("big/repo:issue:1", event(1, 3)),
    ("big/repo:issue:1", event(1, 4, 10 * 1024 * 1024)),  # 10 MB
    ("big/repo:issue:1", event(1, 5)),
    # Fits the input limit, not the enriched topic even compressed (noise).
    ("big/repo:issue:2", event(2, 1, 200_000, noise=True)),
    ("big/repo:issue:2", event(2, 2)),
]
with open(sys.argv[1], "w") as f:
    for key, ev in rows:
        f.write(key + "\t" + json.dumps(ev, separators=(",", ":")) + "\n")
    # Malformed, with words that must never be repeated anywhere.
    f.write('big/repo:issue:3\t{"event_type":"issue","issue":{"title":"Zanzibar quokka" "body":"marmalade"}}\n')
    f.write('big/repo:issue:3\t{"event_type":"issue","issue":{"title":Zanzibar quokka marmalade}}\n')
PY
start_worker w
wait_until 60 metric_ge w dispatchd_partitions_assigned 3
t0=$SECONDS
"$ktool" produce "$bootstrap" "$tag.raw" "$work/records.txt" >/dev/null || { echo "produce failed"; exit 1; }
echo "# produced in $((SECONDS - t0)) s"
done_all() { [ "$(metric w dispatchd_records_processed_total)" -ge 9 ]; }
wait_until 90 done_all
check "every record finished" 9 "$(metric w dispatchd_records_processed_total)"
check "ok and dlq" "4 5" "$(metric w 'dispatchd_records_processed_total{result="ok"}') $(metric w 'dispatchd_records_processed_total{result="dlq"}')"
settled() { [ "$(metric w dispatchd_commit_lag)" -eq 0 ] && [ "$(metric w dispatchd_incomplete_offsets)" -eq 0 ]; }
wait_until 10 settled
check "no partition left with commit lag" "0 0" "$(metric w dispatchd_commit_lag) $(metric w dispatchd_incomplete_offsets)"

start=$SECONDS
stop_worker w
check "SIGTERM exits 0" 0 "$worker_rc"
check_le "and within 10 s" $((SECONDS - start)) 10

"$ktool" dump "$bootstrap" "$tag.dlq" 3000 > "$work/dlq.jsonl"
check "DLQ records" '{"count":5}' "$(tail -1 "$work/dlq.jsonl")"
python3 - "$work/dlq.jsonl" > "$work/dlq.summary" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if "headers" not in d:
        continue
    h = d["headers"]
    print(h.get("original_size", "-"), h.get("truncated", "-"), d["value_len"] < 1_000_000, h["error"].split(":")[0])
PY
check "1.02 MB record: cut, original size kept, oversized named" 1 \
  "$(grep -c '^1069[0-9]* true True oversized$' "$work/dlq.summary")"
check "10 MB record: cut, original size kept, oversized named" 1 \
  "$(grep -c '^1048[0-9]* true True oversized$' "$work/dlq.summary")"
check "refused enriched event: the record whole in the DLQ with the reason" 1 \
  "$(grep -c '^- - True enriched event refused by' "$work/dlq.summary")"
check "DLQ original sizes exact" 2 "$(python3 - "$work/dlq.jsonl" "$work/records.txt" <<'PY'
import json, sys
sizes = {len(l.split("\t", 1)[1].rstrip("\n").encode()) for l in open(sys.argv[2])}
print(sum(1 for l in open(sys.argv[1]) if '"original_size"' in l
          and int(json.loads(l)["headers"]["original_size"]) in sizes))
PY
)"
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 issue > "$work/enriched.jsonl"
check "enriched events: the normal records, in key order" \
  "Issue 1 version 1,Issue 1 version 3,Issue 1 version 5,Issue 2 version 2" \
  "$(grep '"issue"' "$work/enriched.jsonl" | python3 -c '
import json, sys
print(",".join(sorted(json.loads(l)["issue"]["title"] for l in sys.stdin)))')"
check "issue 1 stored at its last version" "2024-03-01 00:05:00+00" \
  "$(sql "SELECT updated_at FROM dispatchai.issues WHERE github_issue_id = 9000001")"
check "no issue text in the logs" 0 "$(grep -c -e Zanzibar -e quokka -e marmalade "$work/w.log")"
check "no issue text in DLQ headers" 0 "$(python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    h = json.dumps(json.loads(l).get("headers", {}))
    n += any(w in h for w in ("Zanzibar", "quokka", "marmalade"))
print(n)' "$work/dlq.jsonl")"
finish
