#!/usr/bin/env bash
# The retry path across a crash and a rebalance: two workers in one group;
# the LLM fails one repository's issues until it heals. Once their records
# wait in the retry path, the worker holding some of them is killed -9; the
# other takes its partitions over, reads their retry backlog for its keys,
# and the keys' next versions (produced after the takeover) follow them
# there instead of overtaking them (those versions would not fail: only
# following keeps them behind). After healing: every version stored and
# published exactly once, each key's enriched events in offset order,
# nothing in the DLQ.
#   retry_fleet.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
HEAL_S=25
start_fake_llm --latency-ms 5 --script '{"rules": [
  {"match": "Repository: sick/repo", "unless": "later", "until_s": '$HEAL_S', "status": 500}]}'
write_config "max_inflight = 50" "[classifier]" "rate_limit = 1000000" "daily_limit = 1000000" \
  "[openai]" "max_retries = 1" "retry_initial_ms = 50" "retry_max_ms = 100" "breaker_failures = 100000" \
  "[retry]" "attempts = 40" "initial_ms = 1000" "max_ms = 2000"

gen() {   # gen FIRST_VERSION LAST_VERSION FILE: versions of 20 well and 10 sick keys, keys interleaved
python3 - "$1" "$2" "$3" <<'PY'
import json, random, sys
first, last, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(first)
keys = [("well", k) for k in range(20)] + [("sick", k) for k in range(10)]
queue = [key for key in keys for _ in range(first, last + 1)]
rng.shuffle(queue)
nextv = {key: first for key in keys}
with open(path, "w") as f:
    for repo, k in queue:
        v = nextv[(repo, k)]
        nextv[(repo, k)] = v + 1
        ev = {"event_type": "issue", "action": "edited", "version": v,
              "repository": {"id": 1, "name": "repo", "full_name": repo + "/repo"},
              "issue": {"id": (8100000 if repo == "well" else 8200000) + k, "number": k + 1,
                        "title": "%s %d v%d%s" % (repo, k, v, " later" if v >= 3 else ""), "user": {"login": "o"},
                        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:%02d:00Z" % v}}
        f.write("%s/repo:issue:%d\t%s\n" % (repo, k + 1, json.dumps(ev)))
PY
}
both() {   # both METRIC: the sum over the live workers
  local n=0 w
  for w in w1 w2; do [ -n "${pids[$w]:-}" ] && n=$((n + $(metric $w "$1"))); done
  echo $n
}
both_ge() { [ "$(both "$1")" -ge "$2" ]; }

LLM="CLASSIFIER=openai OPENAI_BASE_URL=http://127.0.0.1:$fport/v1 OPENAI_API_KEY=test-key"
start_worker w1 $LLM
start_worker w2 $LLM
shared() { metric_ge w1 dispatchd_partitions_assigned 1 && metric_ge w2 dispatchd_partitions_assigned 1 &&
           both_ge dispatchd_partitions_assigned 3; }
wait_until 60 shared
sleep 1
gen 0 2 "$work/batch1.txt"
"$ktool" produce "$bootstrap" "$tag.raw" "$work/batch1.txt" >/dev/null
wait_until 30 both_ge 'dispatchd_retry_records_total{outcome="followed"}' 20
check "before the crash: each sick key's first version entered the retry path, the next two followed" "10 20" \
  "$(both 'dispatchd_retry_records_total{outcome="entered"}') $(both 'dispatchd_retry_records_total{outcome="followed"}')"
check "... while the healthy keys were all stored" 20 \
  "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'well' AND title LIKE '% v2'")"
held_by_w1=$(metric w1 dispatchd_parked_keys)
check "w1 holds some of the parked keys (the ones the crash moves)" yes "$([ "$held_by_w1" -ge 1 ] && echo yes)"
kill_worker w1
wait_until 60 metric_ge w2 dispatchd_partitions_assigned 3
check "w2 took over w1's partitions" 3 "$(metric w2 dispatchd_partitions_assigned)"
wait_until 15 metric_ge w2 dispatchd_parked_keys 10
check "w2 read the retry backlog of the partitions it took over: all 10 sick keys parked" 10 \
  "$(metric w2 dispatchd_parked_keys)"
followed_before=$(metric w2 'dispatchd_retry_records_total{outcome="followed"}')
gen 3 4 "$work/batch2.txt"
"$ktool" produce "$bootstrap" "$tag.raw" "$work/batch2.txt" >/dev/null
wait_until 30 metric_ge w2 'dispatchd_retry_records_total{outcome="followed"}' $((followed_before + 20))
check "the sick keys' next versions followed them into the path (none overtook)" 20 \
  "$(( $(metric w2 'dispatchd_retry_records_total{outcome="followed"}') - followed_before ))"
sick_done() { [ "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'sick' AND title LIKE '% v4 later'")" -eq 10 ]; }
wait_until 120 sick_done
check "after healing: every sick key stored in its last version" 10 \
  "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'sick' AND title LIKE '% v4 later'")"
check "... and every healthy one" 20 \
  "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'well' AND title LIKE '% v4 later'")"
wait_until 15 metric_le w2 dispatchd_parked_keys 0
check "no key parked once the path is empty" 0 "$(metric w2 dispatchd_parked_keys)"

"$ktool" dump "$bootstrap" "$tag.enriched" 3000 version > "$work/enriched.jsonl"
verdict=$(python3 - "$work/enriched.jsonl" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1]) if '"key"' in l]
by_key = collections.defaultdict(list)
for r in sorted(rows, key=lambda r: (r["partition"], r["offset"])):
    by_key[r["key"]].append(r["version"])
bad = [k for k, v in by_key.items() if v != list(range(5))]
print("%s %d %d" % ("in_order_once" if not bad else "broken:" + ",".join(sorted(bad)[:3]), len(by_key), len(rows)))
PY
)
check "enriched: every version of the 30 keys exactly once, each key in offset order" "in_order_once 30 150" "$verdict"
check "one row per issue" 30 "$(sql "SELECT count(*) FROM dispatchai.issues")"
"$ktool" dump "$bootstrap" "$tag.dlq" 2000 > "$work/dlq.jsonl"
check "nothing in the DLQ" 0 "$(grep -c '"key"' "$work/dlq.jsonl")"
stop_worker w2
check "w2 exits 0" 0 "$worker_rc"
finish
