#!/usr/bin/env bash
# DLQ inspection and replay against the real broker and database: 1,000
# records refused by the LLM (401, permanent) land in the DLQ, 500 before a
# time T and 500 after. The list shows their metadata and never a title or
# body; filters by time, key, class and tail are exact; GET /api/status
# shows the last 20 (metadata only); bad filters are 400 (and
# exit 2 on the command line). After the LLM heals: a dry run changes
# nothing; replays by time range, by key, then of everything, each record
# sent once (replaying the same range again sends nothing); every record
# ends stored once, classified once, published once.
#   dlq_replay.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=dlq-test-token
start_fake_llm --latency-ms 2 --script '{"rules": [{"match": "Repository: dlq/", "status": 401}]}'
write_config "max_inflight = 200" "[classifier]" "rate_limit = 1000000" "daily_limit = 1000000"
gen() {   # gen REPO FILE: 500 issues of dlq/REPO, one event each
python3 - "$1" "$2" <<'PY'
import json, sys
repo, path = sys.argv[1], sys.argv[2]
with open(path, "w") as f:
    for n in range(1, 501):
        ev = {"event_type": "issue", "action": "opened",
              "repository": {"id": 1, "name": repo, "full_name": "dlq/" + repo},
              "issue": {"id": (9100000 if repo == "a" else 9200000) + n, "number": n, "title": "secret title %s %d" % (repo, n),
                        "body": "secret body", "user": {"login": "o"},
                        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}}
        f.write("dlq/%s:issue:%d\t%s\n" % (repo, n, json.dumps(ev)))
PY
}
start_worker w1 CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key \
  DISPATCHD_ADMIN_TOKEN=$T
gen a "$work/a.txt"; gen b "$work/b.txt"
"$ktool" produce "$bootstrap" "$tag.raw" "$work/a.txt" >/dev/null
wait_until 60 metric_ge w1 'dispatchd_dlq_records_total{error_class="permanent"}' 500
sleep 1; t_mid=$(date +%s%3N); sleep 1
"$ktool" produce "$bootstrap" "$tag.raw" "$work/b.txt" >/dev/null
wait_until 60 metric_ge w1 'dispatchd_dlq_records_total{error_class="permanent"}' 1000
check "1,000 records refused into the DLQ, nothing stored" "1000 0" \
  "$(metric w1 'dispatchd_dlq_records_total{error_class="permanent"}') $(sql "SELECT count(*) FROM dispatchai.issues")"

api w1 GET "/api/admin/dlq?limit=5"
check "list: 200, 5 records, the limit reached" "200 5 True" "$code $(field 'd["count"]') $(field 'd["truncated"]')"
check "list: metadata of a record" "True permanent LLM HTTP 401 True" \
  "$(field 'all(k in d["records"][0] for k in ("partition","offset","key","dlq_at","attempts","first_failed_at","original_topic","original_partition","original_offset"))') $(field 'd["records"][0]["error_class"]') $(field 'd["records"][0]["error"][:12]') $(field 'd["records"][0]["key"].startswith("dlq/")')"
check "list: never a title or body" 0 "$(grep -c 'secret' "$work/resp")"
api w1 GET "/api/admin/dlq?key=dlq/b:issue:7"
check "list by key: exactly that key" "1 dlq/b:issue:7" "$(field 'd["count"]') $(field 'd["records"][0]["key"]')"
api w1 GET "/api/admin/dlq?to=$t_mid&limit=10000"
check "list to T: the 500 before it, all of dlq/a" "500 500" \
  "$(field 'd["count"]') $(field 'sum(r["key"].startswith("dlq/a:") for r in d["records"])')"
api w1 GET "/api/admin/dlq?from=$t_mid&limit=10000"
check "list from T: the 500 after it, all of dlq/b" "500 500" \
  "$(field 'd["count"]') $(field 'sum(r["key"].startswith("dlq/b:") for r in d["records"])')"
api w1 GET "/api/admin/dlq?tail=4&limit=10000"
check "list tail=4: each partition's last 4 records, consecutive" True \
  "$(field 'len({r["partition"] for r in d["records"]}) >= 2 and all(sorted(r["offset"] for r in d["records"] if r["partition"] == p) == list(range(max(r["offset"] for r in d["records"] if r["partition"] == p) - 3, max(r["offset"] for r in d["records"] if r["partition"] == p) + 1)) for p in {r["partition"] for r in d["records"]})')"
newest=$(field 'max(r["dlq_at"] for r in d["records"])')
recent() {   # the snapshot catches up with the DLQ's end within a refresh or two
  code=$(curl -s -o "$work/resp" -w '%{http_code}' "http://127.0.0.1:${ports[w1]}/api/status")
  [ "$(field 'len(d["dlq_recent"]) == 20 and d["dlq_recent"][0]["dlq_at"] == "'"$newest"'"')" = True ]
}
wait_until 15 recent
check "GET /api/status (no token): the DLQ's last 20 records, newest first, the newest of all included" "20 True True" \
  "$(field 'len(d["dlq_recent"])') $(field '[r["dlq_at"] for r in d["dlq_recent"]] == sorted((r["dlq_at"] for r in d["dlq_recent"]), reverse=True)') $(field 'd["dlq_recent"][0]["dlq_at"] == "'"$newest"'"')"
check "... their metadata: key, class, error, origin" "True" \
  "$(field 'all(r["key"].startswith("dlq/") and r["error_class"] == "permanent" and r["error"].startswith("LLM HTTP 401") and r["original_offset"] >= 0 for r in d["dlq_recent"])')"
check "... never a title or body" 0 "$(grep -c 'secret' "$work/resp")"
api w1 GET "/api/admin/dlq?error_class=transient"
check "list by class: no transient ones" "200 0" "$code $(field 'd["count"]')"
for q in "from=yesterday" "to=2024-13-01T00:00:00Z" "error_class=fatal" "limit=0" "tail=0" "limit=20000" "colour=red" \
         "from=2000&to=1000" "dry_run=true"; do
  api w1 GET "/api/admin/dlq?$q"
  check "list ?$q: 400" "400 bad_filter" "$code $(field 'd["error"]')"
done
for b in '{"limit": "x"}' '{"from": 2000, "to": 1000}' '{"error_class": "fatal"}' '{"dry_run": "maybe"}' \
         '{"partitions": [1]}' 'not json' '[1]'; do
  api w1 POST /api/admin/dlq/replay "$b"
  check "replay $b: 400" 400 "$code"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${ports[w1]}/api/admin/dlq")
check "no token: 401" 401 "$code"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" dlq list --from yesterday --config "$work/dispatchd.conf" >/dev/null 2>&1
check "CLI: a bad filter exits 2" 2 $?

curl -s -X POST -d '{"rules": []}' "http://127.0.0.1:$fport/script" >/dev/null   # the LLM heals
replay() {   # replay BODY: sets code and the response (its job followed to the end)
  api w1 POST /api/admin/dlq/replay "$1"
  local id
  if [ "$code" = 202 ]; then
    id=$(field 'd["job_id"]')
    for _ in $(seq 1 300); do
      api w1 GET "/api/admin/dlq/replay/$id"
      [ "$(field 'd["status"]')" != running ] && break
      sleep 0.2
    done
  fi
}
raw_before=$("$ktool" dump "$bootstrap" "$tag.raw" 2000 | grep -c '"key"')
replay "{\"to\": $t_mid, \"dry_run\": true}"
check "dry run to T: 500 matched, 500 would go, none sent" "done 500 500 0" \
  "$(field 'd["status"]') $(field 'd["matched"]') $(field 'd["would_replay"]') $(field 'd["replayed"]')"
sleep 2
check "... nothing reached the input topic" "$raw_before" "$("$ktool" dump "$bootstrap" "$tag.raw" 2000 | grep -c '"key"')"
check "... nothing stored" 0 "$(sql "SELECT count(*) FROM dispatchai.issues")"
replay "{\"to\": \"$(date -u -d @$((t_mid / 1000)) +%Y-%m-%dT%H:%M:%S).$(printf %03d $((t_mid % 1000)))Z\"}"
check "replay to T (ISO 8601): 500 sent" "done 500 500 0" \
  "$(field 'd["status"]') $(field 'd["matched"]') $(field 'd["replayed"]') $(field 'd["already_replayed"]')"
a_done() { [ "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_name = 'a'")" -eq 500 ]; }
wait_until 60 a_done
check "... all of dlq/a stored, none of dlq/b" "500 0" \
  "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_name = 'a'") $(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_name = 'b'")"
replay '{"key": "dlq/b:issue:7"}'
check "replay by key: that one record" "1 1" "$(field 'd["matched"]') $(field 'd["replayed"]')"
wait_until 30 test -n "$(sql "SELECT 1 FROM dispatchai.issues WHERE repository_name = 'b' AND issue_number = 7")"
check "... stored, alone of dlq/b" 1 "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_name = 'b'")"
replay '{}'
check "replay everything: 1000 matched, the 499 never sent sent, 501 replayed before" "1000 499 501" \
  "$(field 'd["matched"]') $(field 'd["replayed"]') $(field 'd["already_replayed"]')"
replay "{\"to\": $t_mid}"
check "the same range again: nothing sent" "500 0 500" \
  "$(field 'd["matched"]') $(field 'd["replayed"]') $(field 'd["already_replayed"]')"
out=$(KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" dlq replay --dry-run --config "$work/dispatchd.conf" 2>/dev/null)
check "CLI dry run: everything replayed before, nothing would go" "1000 0" \
  "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["matched"], d["would_replay"])' "$out")"
out=$(KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" dlq list --key dlq/a:issue:3 --config "$work/dispatchd.conf" 2>/dev/null)
check "CLI list by key" "1 dlq/a:issue:3" \
  "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["count"], d["records"][0]["key"])' "$out")"

all_done() { [ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")" -eq 1000 ]; }
wait_until 60 all_done
check "every record stored and classified once" "1000 1000" \
  "$(sql "SELECT count(*) FROM dispatchai.issues") $(sql "SELECT count(*) FROM dispatchai.enriched_issues")"
sleep 2
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 > "$work/enriched.jsonl"
check "published once each: 1000 enriched events, 1000 keys" "1000 1000" \
  "$(grep -c '"key"' "$work/enriched.jsonl") $(grep -o '"key":"[^"]*"' "$work/enriched.jsonl" | sort -u | wc -l)"
"$ktool" dump "$bootstrap" "$tag.raw" 2000 > "$work/raw.jsonl"
check "the input got each DLQ record once, marked replayed_from" "1000 1000" \
  "$(grep -c '"replayed_from"' "$work/raw.jsonl") $(grep -o '"replayed_from":"[^"]*"' "$work/raw.jsonl" | sort -u | wc -l)"
curl -s "http://127.0.0.1:$fport/stats" > "$work/stats.json"
check "the LLM was asked once after healing per issue (2 requests each: the 401, the answer)" "1000 True" \
  "$(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["titles"]
mine = {k: n for k, n in t.items() if k.startswith("secret title")}
print(len(mine), all(n == 2 for n in mine.values()))' "$work/stats.json")"
check "metric: 1000 replayed" 1000 "$(metric w1 dispatchd_dlq_replayed_total)"
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
finish
