#!/usr/bin/env bash
# The retry path against the real broker and the fake LLM: the LLM answers
# 500 for one repository's issues until it heals (6 s after its first
# request) and for another's for good. Other keys are not held (all stored
# while the sick ones still fail); the sick records leave their partitions
# for the retry topic, their later versions follow them there (the last
# one would not fail: only following keeps it behind), and once the
# server heals every version is classified once, each key's enriched events
# in offset order; the never-healing ones end in the DLQ as transient with
# their attempt history. Nothing lost, nothing twice. A stray record in
# the retry topic goes to the DLQ as permanent.
#   retry_path.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
HEAL_S=6 ATTEMPTS=16
start_fake_llm --latency-ms 5 --script '{"rules": [
  {"match": "Repository: sick/repo", "unless": "last", "until_s": '$HEAL_S', "status": 500},
  {"match": "Repository: dead/repo", "status": 500}]}'
write_config "max_inflight = 50" "[classifier]" "rate_limit = 1000000" "daily_limit = 1000000" \
  "[openai]" "max_retries = 1" "retry_initial_ms = 50" "retry_max_ms = 100" "breaker_failures = 100000" \
  "[retry]" "attempts = $ATTEMPTS" "initial_ms = 500" "max_ms = 1000"

# well: 40 keys x 5 versions, sick: 10 x 5, dead: 3 x 1; each key's
# versions in order, keys interleaved.
python3 - "$work/events.txt" <<'PY'
import json, random, sys
rng = random.Random(11)
queue = [("well", k) for k in range(40) for _ in range(5)] + [("sick", k) for k in range(10) for _ in range(5)]
queue += [("dead", k) for k in range(3)]
rng.shuffle(queue)
nextv = {}
with open(sys.argv[1], "w") as f:
    for seq, (repo, k) in enumerate(queue):
        v = nextv.get((repo, k), 0)
        nextv[(repo, k)] = v + 1
        base = {"well": 7100000, "sick": 7200000, "dead": 7300000}[repo]
        ev = {"event_type": "issue", "action": "edited", "seq": seq, "version": v,
              "repository": {"id": 1, "name": "repo", "full_name": repo + "/repo"},
              "issue": {"id": base + k, "number": k + 1, "title": "%s %d v%d%s" % (repo, k, v, " last" if v == 4 else ""), "user": {"login": "o"},
                        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:%02d:00Z" % v}}
        f.write("%s/repo:issue:%d\t%s\n" % (repo, k + 1, json.dumps(ev)))
PY
"$ktool" produce "$bootstrap" "$tag.raw" "$work/events.txt" >/dev/null
start_worker w1 CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key

rows() { sql "SELECT count(*) FROM dispatchai.issues i JOIN dispatchai.enriched_issues e ON e.issue_id = i.id
              WHERE i.repository_owner = '$1'"; }
well_done() { [ "$(rows well)" -eq 40 ] && [ "$(sql "SELECT count(*) FROM dispatchai.issues WHERE
              repository_owner = 'well' AND title LIKE '% v4%'")" -eq 40 ]; }
wait_until 60 well_done
check "other keys: all 40 stored in their last version" yes "$(well_done && echo yes)"
check "... while every sick record still failed (none stored: they did not hold the others)" 0 "$(rows sick)"
wait_until 30 metric_ge w1 'dispatchd_retry_records_total{outcome="entered"}' 13
check "entered the retry path: the first record of each sick and dead key" 13 \
  "$(metric w1 'dispatchd_retry_records_total{outcome="entered"}')"
wait_until 30 metric_ge w1 'dispatchd_retry_records_total{outcome="followed"}' 40
check "their later versions followed them there" 40 "$(metric w1 'dispatchd_retry_records_total{outcome="followed"}')"
wait_until 15 metric_le w1 dispatchd_consumer_lag 0
check "the input's commit points moved past the sick records (lag 0) ..." 0 "$(metric w1 dispatchd_consumer_lag)"
check "... while they still fail" 0 "$(rows sick)"
sick_done() { [ "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'sick' AND title LIKE '% v4%'")" -eq 10 ]; }
wait_until 90 sick_done
check "after healing, every sick key stored in its last version" 10 \
  "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'sick' AND title LIKE '% v4%'")"
check "... classified by the LLM" 10 "$(sql "SELECT count(*) FROM dispatchai.issues i JOIN dispatchai.enriched_issues e
  ON e.issue_id = i.id WHERE i.repository_owner = 'sick' AND e.provider = 'openai'")"
wait_until 90 metric_ge w1 'dispatchd_retry_records_total{outcome="dead_lettered"}' 3
check "retry path: 50 done, 3 dead-lettered" "50 3" \
  "$(metric w1 'dispatchd_retry_records_total{outcome="done"}') $(metric w1 'dispatchd_retry_records_total{outcome="dead_lettered"}')"
check "DLQ metrics: 3 transient, 0 permanent" "3 0" \
  "$(metric w1 'dispatchd_dlq_records_total{error_class="transient"}') $(metric w1 'dispatchd_dlq_records_total{error_class="permanent"}')"
wait_until 10 metric_le w1 dispatchd_parked_keys 0
check "no key parked once the path is empty" 0 "$(metric w1 dispatchd_parked_keys)"
wait_until 10 metric_le w1 dispatchd_retry_queue_depth 0
check "retry queue depth 0" 0 "$(metric w1 dispatchd_retry_queue_depth)"

"$ktool" dump "$bootstrap" "$tag.enriched" 3000 version,seq > "$work/enriched.jsonl"
verdict=$(python3 - "$work/enriched.jsonl" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1]) if '"key"' in l]
by_key = collections.defaultdict(list)
for r in sorted(rows, key=lambda r: (r["partition"], r["offset"])):
    by_key[r["key"]].append(r["version"])
ok = all(v == list(range(5)) for k, v in by_key.items() if not k.startswith("dead/"))
print("%s %d %d" % ("in_order_once" if ok else "broken", len(by_key), len(rows)))
PY
)
check "enriched: every version of the 50 keys once, each key in offset order" "in_order_once 50 250" "$verdict"

"$ktool" dump "$bootstrap" "$tag.dlq" 3000 > "$work/dlq.jsonl"
dlq=$(python3 - "$work/dlq.jsonl" "$tag.raw" $ATTEMPTS <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"key"' in l]
raw, attempts = sys.argv[2], sys.argv[3]
good = 0
for r in rows:
    h = r["headers"]
    hist = json.loads(h.get("history", "[]"))
    if (r["key"].startswith("dead/") and h.get("error_class") == "transient" and h.get("attempts") == attempts
            and h.get("original_topic") == raw and h.get("original_offset", "").isdigit()
            and len(hist) == 8 and all("HTTP 500" in x["error"] for x in hist) and "not_before" not in h):
        good += 1
print("%d of %d" % (good, len(rows)))
PY
)
check "DLQ: the 3 dead keys, transient, $ATTEMPTS attempts, origin and history in headers" "3 of 3" "$dlq"

curl -s "http://127.0.0.1:$fport/stats" > "$work/stats.json"
twice=$(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["titles"]
print(sum(1 for k, n in t.items() if k.startswith("well ") and n != 1), sum(1 for k in t if k.startswith("well ")))
' "$work/stats.json")
check "each healthy version asked of the LLM exactly once" "0 200" "$twice"
check "each sick version stored once (one row per issue)" 10 "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'sick'")"
check "nothing of the input in the DLQ but the dead keys" 3 "$(grep -c '"key"' "$work/dlq.jsonl")"
# A record in the retry topic that the path did not write (no headers):
# kept, in the DLQ as permanent with what was wrong, and committed past.
printf 'stray:key\t{"not": "a record of the path"}\n' > "$work/stray.txt"
"$ktool" produce "$bootstrap" "$tag.retry" "$work/stray.txt" >/dev/null
wait_until 30 metric_ge w1 'dispatchd_dlq_records_total{error_class="permanent"}' 1
"$ktool" dump "$bootstrap" "$tag.dlq" 3000 > "$work/dlq2.jsonl"
check "a stray record in the retry topic: to the DLQ, permanent, saying why" 1 \
  "$(grep '"key":"stray:key"' "$work/dlq2.jsonl" | grep '"error_class":"permanent"' | grep -c 'not a record of the retry path: retry header attempts missing or malformed')"
wait_until 10 metric_le w1 dispatchd_retry_queue_depth 0
check "... and the retry path moved past it" 0 "$(metric w1 dispatchd_retry_queue_depth)"
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
finish
