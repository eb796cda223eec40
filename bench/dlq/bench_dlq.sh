#!/usr/bin/env bash
# make bench-dlq, on the real broker and database, in one run:
#
# retry-isolation: BENCH_DLQ_KEYS (2,000) keys of BENCH_DLQ_VERSIONS (10)
# versions each, classified by the LLM provider against the fake LLM
# (BENCH_DLQ_LLM_MS, 10 ms a request). First with every key healthy (the
# baseline), then again with 1 % of the keys failing for the whole run
# (500s: their records go through the retry path, their later versions
# follow them). The healthy keys' records per second -- from the database's
# own times, first stored to last -- in the failing run against the
# baseline's (two of each, alternating): target ratio >= 0.95.
#
# dlq-replay: BENCH_DLQ_REPLAY (100,000) records of ~1.5 KB of words in
# the DLQ (lz4, as dispatchd writes it); `dispatchd dlq replay` of all of
# them to the input topic against a bare producer (ktool fill, lz4 like
# dispatchd's producer) producing as many of the same size to the same
# topic, each timed from a ready client to the last acknowledgement, the
# median of three: target ratio >= 0.8.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
KEYS="${BENCH_DLQ_KEYS:-2000}" VERSIONS="${BENCH_DLQ_VERSIONS:-10}" LLM_MS="${BENCH_DLQ_LLM_MS:-10}"
REPLAY="${BENCH_DLQ_REPLAY:-100000}"
python3 tests/tools/fake_llm.py --latency-ms "$LLM_MS" > "$work/fake.out" 2> "$work/fake.log" &
pids+=("$!")
for _ in $(seq 1 100); do grep -q listening "$work/fake.out" && break; sleep 0.1; done
fport=$(grep -o '[0-9]*$' "$work/fake.out")
bench_setup "benchdlq$$" "[classifier]" "provider = openai" "rate_limit = 100000000" "daily_limit = 1000000000" \
  "[openai]" "base_url = http://127.0.0.1:$fport/v1" "api_key = bench" "max_retries = 2" "retry_initial_ms = 50" \
  "breaker_failures = 100000" "[retry]" "initial_ms = 5000"

gen() {   # gen RUN FILE: KEYS keys x VERSIONS versions, keys interleaved; 1 % of the keys in repository bad/RUN
python3 - "$1" "$2" "$KEYS" "$VERSIONS" <<'PY'
import json, random, sys
run, path, keys, versions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(5)
queue = [k for k in range(keys) for _ in range(versions)]
rng.shuffle(queue)
nextv = [0] * keys
base = 20000000 + 1000000 * int(run[-1]) + (0 if run.startswith("base") else 500000)
with open(path, "w") as f:
    for k in queue:
        v = nextv[k]
        nextv[k] += 1
        owner = ("bad" if k % 100 == 0 else "ok") + run
        ev = {"event_type": "issue", "action": "edited",
              "repository": {"id": 1, "name": "repo", "full_name": owner + "/repo"},
              "issue": {"id": base + k, "number": k + 1, "title": "Crash in module %d v%d" % (k, v),
                        "body": "Steps to reproduce: open module %d, press the button. Expected no crash." % k,
                        "user": {"login": "o"}, "created_at": "2024-01-01T00:00:00Z",
                        "updated_at": "2024-01-01T%02d:%02d:00Z" % (v // 60, v % 60)}}
        f.write("%s/repo:issue:%d\t%s\n" % (owner, k + 1, json.dumps(ev)))
PY
}
# The healthy keys' stored versions per second, first to last (the
# database's clock), once all of them are in their last version.
rate() {   # rate RUN
  local want=$((KEYS - KEYS / 100)) last="v$((VERSIONS - 1))"
  for _ in $(seq 1 1200); do
    [ "$(psql -tA "$dburl" -c "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'ok$1' AND title LIKE '% $last'")" -eq "$want" ] && break
    sleep 0.25
  done
  psql -tA "$dburl" -c "SELECT round(($want * $VERSIONS) / extract(epoch FROM max(e.processed_at) - min(e.processed_at)))
    FROM dispatchai.issues i JOIN dispatchai.enriched_issues e ON e.issue_id = i.id WHERE i.repository_owner = 'ok$1'"
}
# Baseline and failing runs alternate, twice, on one worker: the ratio is
# of their sums, so a slow moment of the machine weighs on both.
bench_start iso DISPATCHD_GROUP_ID="$tag-iso"
curl -s -X POST -d '{"rules": [{"match": "Repository: badfail", "status": 500}]}' "http://127.0.0.1:$fport/script" >/dev/null
base_rate=0 fail_rate=0
for round in 1 2; do
  for run in base fail; do
    gen "$run$round" "$work/$run$round.txt"
    "$ktool" produce "$bootstrap" "$tag.raw" "$work/$run$round.txt" >/dev/null
    r=$(rate "$run$round")
    [ "$run" = base ] && base_rate=$((base_rate + r)) || fail_rate=$((fail_rate + r))
  done
done
entered=$(python3 scripts/lib/metric_value.py "$url" 'dispatchd_retry_records_total{outcome="entered"}')
followed=$(python3 scripts/lib/metric_value.py "$url" 'dispatchd_retry_records_total{outcome="followed"}')
bench_stop
python3 -c "
b, f = float('$base_rate'), float('$fail_rate')
print('BENCH retry-isolation failing_share=0.01 ok_keys_msgs_per_s=%.0f baseline_msgs_per_s=%.0f ratio=%.3f '
      'retry_entered=%s retry_followed=%s' % (f / 2, b / 2, f / b, '$entered', '$followed'))"

# Three of each, medians compared; each timed from a ready client to the
# last acknowledgement: the bare producer after one warm-up send (its
# producer id and metadata: a cold first send can wait a second), the
# replay by its own job times (the command's producer is ready by then).
produce_s=() replay_s=()
# The DLQ as dispatchd writes it: lz4.
KTOOL_COMPRESSION=lz4 KTOOL_FILL_TEXT=1 "$ktool" fill "$bootstrap" "$tag.dlq" "$REPLAY" 1500 "$REPLAY" >/dev/null
for i in 1 2 3; do
  sleep 1
  out=$(KTOOL_WARM=1 KTOOL_COMPRESSION=lz4 KTOOL_FILL_TEXT=1 "$ktool" fill "$bootstrap" "$tag.raw" "$REPLAY" 1500 "$REPLAY")
  produce_s+=("$(field "$out" seconds)")
  psql -q "$dburl" -c "DELETE FROM dispatchai.dlq_replays"   # each replay sends everything again
  sleep 1
  answer=$(KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" dlq replay --config "$work/bench.conf" 2>"$work/replay.err") ||
    { cat "$work/replay.err" >&2; exit 1; }
  [ "$(field "$answer" replayed)" = "$REPLAY" ] || { echo "replay: $answer" >&2; exit 1; }
  replay_s+=("$(python3 -c '
import json, sys
from datetime import datetime
d = json.loads(sys.argv[1])
t = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
print(t(d["finished_at"]) - t(d["started_at"]))' "$answer")")
done
python3 - "$REPLAY" "${produce_s[*]}" "${replay_s[*]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
p = n / statistics.median(float(x) for x in sys.argv[2].split())
r = n / statistics.median(float(x) for x in sys.argv[3].split())
print("BENCH dlq-replay records=%d replay_per_s=%.0f produce_per_s=%.0f ratio=%.3f" % (n, r, p, r / p))
print("# seconds: produce %s; replay %s" % (sys.argv[2], sys.argv[3]))
PY
