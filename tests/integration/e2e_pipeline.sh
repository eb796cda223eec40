#!/usr/bin/env bash
# End to end against the real broker and PostgreSQL (CTest fixtures start
# them): N issues through `dispatchd sync`, two signed webhook deliveries and
# three malformed records give exactly N+2 issue rows, N+2 enriched rows,
# N+2 enriched events and three DLQ records with their error headers; bad
# webhook deliveries are refused with the reason; a second consumer group
# replaying the topic adds no row and no enriched event.
#   e2e_pipeline.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
N=300
write_config
out=$("$bin" topics ensure --config "$work/dispatchd.conf")
check "topics ensure leaves matching topics alone" 5 "$(grep -c ' ok (' <<<"$out")"

# The e2e drives one worker, `w`, through lib.sh.
start_run() { start_worker w "$@"; metrics="http://127.0.0.1:${ports[w]}/metrics"; port=${ports[w]}; }
wait_metric() {   # wait_metric NAME MIN SECONDS
  local deadline=$((SECONDS + $3))
  while [ "$(metric w "$1")" -lt "$2" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
}
stop_run() { stop_worker w; run_rc=$worker_rc; }
metric_w() { metric w "$1"; }

start_run GITHUB_WEBHOOK_SECRET=e2e-secret
wait_metric dispatchd_partitions_assigned 3 60
check "the worker owns all three partitions" 3 "$(metric_w dispatchd_partitions_assigned)"

"$root/scripts/gen-issues" $N > "$work/issues.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync e2e/repo --from "$work/issues.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
check "sync exits 0" 0 $?
{
  printf 'bad-1\tnot json {\n'
  printf 'bad-2\t{"event_type":"issue","issue":{"id":1,"number":1,"title":"x"}}\n'
  printf 'bad-3\t{"event_type":"issue","issue":{"title":"\xff\xfe"}}\n'
} > "$work/bad.txt"
"$ktool" produce "$bootstrap" "$tag.raw" "$work/bad.txt" >/dev/null

# Webhooks: two good deliveries, then the refusals.
python3 - "$work/hooks.json" <<'PY'
import json, sys
def delivery(n):
    return {"action": "opened",
            "issue": {"id": 7_000_000 + n, "number": 5000 + n, "title": "Webhook issue %d crashes" % n,
                      "body": "stack trace", "state": "open", "labels": [], "user": {"login": "octo"},
                      "created_at": "2024-02-01T00:00:00Z", "updated_at": "2024-02-01T00:00:0%dZ" % n},
            "repository": {"id": 1, "name": "repo", "full_name": "e2e/repo", "private": False,
                           "owner": {"login": "e2e"}},
            "sender": {"login": "octo"}}
json.dump([delivery(1), delivery(2)], open(sys.argv[1], "w"))
PY
hook="http://127.0.0.1:$port/webhook/github"
out=$(python3 "$root/scripts/lib/post_webhooks.py" "$hook" e2e-secret issues "$work/hooks.json")
check "signed webhook deliveries accepted after Kafka's ack" '"accepted": 2, "refused": 0' \
  "$(grep -o '"accepted": [0-9]*, "refused": [0-9]*' <<<"$out")"
status() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
check "webhook with a wrong signature is refused" 401 \
  "$(status -X POST -H 'X-GitHub-Event: issues' -H 'X-Hub-Signature-256: sha256=00' -d '{}' "$hook")"
check "webhook without a signature is refused" 401 "$(status -X POST -H 'X-GitHub-Event: issues' -d '{}' "$hook")"
sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac e2e-secret | sed 's/^.* /sha256=/'; }
body='{"zen":"hi"}'
check "ping answered" 200 "$(status -X POST -H 'X-GitHub-Event: ping' -H "X-Hub-Signature-256: $(sign "$body")" -d "$body" "$hook")"
check "other events ignored with 202" 202 \
  "$(status -X POST -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: $(sign "$body")" -d "$body" "$hook")"
body='{"action":"opened","issue":{"number":1,"title":"t"},"repository":{"full_name":"e2e/repo"}}'
check "an invalid issues payload is refused with 400" 400 \
  "$(status -X POST -H 'X-GitHub-Event: issues' -H "X-Hub-Signature-256: $(sign "$body")" -d "$body" "$hook")"
check "the refusal names the field" 1 "$(grep -c 'missing field: issue.id' "$work/body")"

N=$((N + 2))   # the two webhook issues count from here on

# A row the database refuses (a login longer than the column) among good
# ones: it alone goes to the DLQ, with the database's own error.
python3 - "$work/mixed.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for n in range(1, 6):
        f.write(json.dumps({"id": 8_000_000 + n, "number": 9000 + n, "title": "mixed %d" % n,
                            "user": {"login": "x" * 300 if n == 3 else "ok"},
                            "created_at": "2024-03-01T00:00:00Z", "updated_at": "2024-03-01T00:00:00Z"}) + "\n")
PY
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync e2e/mixed --from "$work/mixed.jsonl" \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
N=$((N + 4))   # four good rows; the fourth DLQ record is checked below
wait_metric dispatchd_records_processed_total $((N + 4)) 120
ok=$(python3 - "$metrics" <<'PY'
import sys, urllib.request
t = urllib.request.urlopen(sys.argv[1]).read().decode()
print(" ".join(l.split('"')[1] + "=" + l.rsplit(" ", 1)[1] for l in t.splitlines()
               if l.startswith("dispatchd_records_processed_total{")))
PY
)
check "records processed by result" "ok=$N retry=0 dlq=4 skipped=0" "$ok"
copies=$(metric_w dispatchd_db_copy_batches_total) batches=$(metric_w dispatchd_db_batches_total)
check "the synced issues, new, went by COPY in batches of their own" yes \
  "$([ "$copies" -ge 1 ] && [ "$copies" -le "$batches" ] && echo yes || echo "copies=$copies batches=$batches")"
stop_run
check "run exits 0 after SIGTERM" 0 "$run_rc"

check "issue rows" $N "$(psql -tA "$dburl" -c 'SELECT count(*) FROM dispatchai.issues')"
check "enriched rows" $N "$(psql -tA "$dburl" -c 'SELECT count(*) FROM dispatchai.enriched_issues')"
check "the e2e/repo sync completed with every event counted" "completed $((N - 6)) $((N - 6)) $((N - 6))" \
  "$(psql -tA "$dburl" -c "SELECT sync_status || ' ' || issues_total || ' ' || issues_synced || ' ' || issues_classified
                          FROM dispatchai.repository_syncs WHERE repository_name = 'repo'")"
check "the e2e/mixed sync completed, its refused row counted as synced, not classified" "completed 5 5 4" \
  "$(psql -tA "$dburl" -c "SELECT sync_status || ' ' || issues_total || ' ' || issues_synced || ' ' || issues_classified
                          FROM dispatchai.repository_syncs WHERE repository_name = 'mixed'")"
check "synced rows are manual_pull from the sync user" $((N - 2)) \
  "$(psql -tA "$dburl" -c "SELECT count(*) FROM dispatchai.issues WHERE sync_source='manual_pull' AND pulled_by_user_id='cli'")"
check "webhook rows are webhook-sourced" 2 \
  "$(psql -tA "$dburl" -c "SELECT count(*) FROM dispatchai.issues WHERE sync_source='webhook'")"
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 > "$work/enriched.jsonl"
check "enriched events" "{\"count\":$N}" "$(tail -1 "$work/enriched.jsonl")"
check "every enriched event keeps its correlation_id" $N "$(grep -c '"correlation_id"' "$work/enriched.jsonl")"
# Each enriched event is its raw event plus classification and
# processing_metadata (the publisher splices them into the raw bytes);
# raw_data keeps the event without the title and body, which the view
# issues_full puts back.
"$ktool" dump "$bootstrap" "$tag.enriched" 1500 '*' > "$work/enriched_full.jsonl"
"$ktool" dump "$bootstrap" "$tag.raw" 1500 '*' > "$work/raw_full.jsonl"
psql -tA "$dburl" -c "SELECT github_issue_id || ' ' || raw_data::text FROM dispatchai.issues_full" > "$work/view.txt"
check "enriched = raw + classification + processing_metadata; the view gives raw_data back whole" "$N $N $N" \
  "$(python3 - "$work/raw_full.jsonl" "$work/enriched_full.jsonl" "$work/view.txt" <<'PY'
import json, sys
def values(path):
    return [json.loads(l) for l in open(path) if l.startswith('{"key"')]
raw = {r["key"]: r["value"] for r in values(sys.argv[1]) if isinstance(r["value"], dict)}
same = 0
by_id = {}
for r in values(sys.argv[2]):
    v = dict(r["value"])
    ok = isinstance(v.pop("classification", None), dict) and isinstance(v.pop("processing_metadata", None), dict)
    same += ok and v == raw.get(r["key"])
    by_id[v["issue"]["id"]] = v
rebuilt = full = 0
for line in open(sys.argv[3]):
    gid, data = line.split(" ", 1)
    d = json.loads(data)
    rebuilt += d == by_id.get(int(gid))
    full += "title" in d["issue"]
print(same, rebuilt, full)
PY
)"
check "the large columns compress with lz4 (the server has it)" "l l l l" \
  "$(psql -tA "$dburl" -c "SELECT string_agg(attcompression::text, ' ') FROM pg_attribute
                          WHERE attrelid IN ('dispatchai.issues'::regclass, 'dispatchai.enriched_issues'::regclass)
                          AND attname IN ('body', 'raw_data', 'classification', 'ai_reasoning')")"
check "raw_data holds no title, nor a body that has its column" 0 \
  "$(psql -tA "$dburl" -c "SELECT count(*) FROM dispatchai.issues WHERE raw_data->'issue' ? 'title'
                          OR (body IS NOT NULL AND raw_data->'issue' ? 'body')")"
version=$(psql -tA "$dburl" -c 'SELECT max(version) FROM dispatchai.schema_migrations')
check "migrate again is a no-op" "migrate: schema at version $version" \
  "$("$bin" migrate --config "$work/dispatchd.conf" 2>&1)"
"$ktool" dump "$bootstrap" "$tag.dlq" 3000 > "$work/dlq.jsonl"
check "DLQ records" '{"count":4}' "$(tail -1 "$work/dlq.jsonl")"
check "DLQ: the database's own error for the refused row" 1 \
  "$(grep -c '"error":"database: ERROR:  value too long for type character varying(255)' "$work/dlq.jsonl")"
check "the refused row's batch-mates are stored" 4 \
  "$(psql -tA "$dburl" -c "SELECT count(*) FROM dispatchai.issues WHERE repository_name = 'mixed'")"
check "DLQ: not JSON named" 1 "$(grep -c '"error":"not JSON' "$work/dlq.jsonl")"
check "DLQ: missing field named" 1 "$(grep -c '"error":"missing field: repository' "$work/dlq.jsonl")"
check "DLQ: invalid UTF-8 named" 1 "$(grep -c '"error":"invalid UTF-8' "$work/dlq.jsonl")"
check "DLQ records are permanent with their origin" 4 \
  "$(grep '"error_class":"permanent"' "$work/dlq.jsonl" | grep "\"original_topic\":\"$tag.raw\"" | grep -c '"original_offset"')"
check "logs carry no issue text" 0 "$(head -3 "$work/issues.jsonl" | python3 -c '
import json, sys
titles = [json.loads(l)["title"] for l in sys.stdin]
log = open(sys.argv[1]).read()
print(sum(t in log for t in titles if len(t) > 12))' "$work/w.log")"

# Replay everything through a second group: idempotent sink, nothing new.
start_run DISPATCHD_GROUP_ID="$tag-replay"
wait_metric dispatchd_records_processed_total $((N + 4)) 120
check "replay: every record skipped as already stored" $N "$(metric_w 'dispatchd_records_processed_total{result="skipped"}')"
check "replay: no batch by COPY (the rows are there)" 0 "$(metric_w dispatchd_db_copy_batches_total)"
stop_run
check "replay run exits 0" 0 "$run_rc"
check "replay: still N issue rows" $N "$(psql -tA "$dburl" -c 'SELECT count(*) FROM dispatchai.issues')"
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 > "$work/enriched2.jsonl"
check "replay: no second enriched event" "{\"count\":$N}" "$(tail -1 "$work/enriched2.jsonl")"

finish
