#!/usr/bin/env bash
# make bench-classify: the local model's inference rate per core against the
# 20,000 issues/s target, and its 5-fold cross-validated macro-F1 on the
# NLBSE'24 training file (../shared; without it, generated issues and no
# F1); then the openai provider against the fake LLM server at 200 ms with
# no limit and 1,000 requests in flight (real Kafka and PostgreSQL; the
# partitions allow 1,000 records each, so the LLM slots are the limit, not
# the records finishing their storage and publishing):
# ideal = in flight / latency. Then the group-wide rate limit at 50
# requests/s (3,000 a minute) for over a minute: the busiest 60 seconds at
# the server against the limit.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
nlbse="$root/../shared/data/nlbse24/issues_train.csv"
if [ -f "$nlbse" ]; then
  csv="$nlbse"
  f1=$(build/dispatchd eval "$nlbse" --cv 5 | tail -1 | awk '{print $5}')
else
  scripts/gen-issues 2000 > "$work/issues.jsonl"
  python3 - "$work/issues.jsonl" "$work/issues.csv" <<'PY'
import csv, json, sys
with open(sys.argv[2], "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["label", "title", "body"])
    for line in open(sys.argv[1]):
        d = json.loads(line)
        w.writerow(["?", d.get("title", ""), d.get("body") or ""])
PY
  csv="$work/issues.csv"
  f1="n/a"
  echo "# ../shared is absent: generated issues, no F1" >&2
fi
read -r rate n < <(build/bench/bench_local config/model.bin "$csv")
echo "BENCH local-model issues_per_s_per_core=$rate cv_macro_f1=$f1 target_per_s=20000 ratio=$(python3 -c "print(round($rate / 20000, 2))") issues=$n"

# llm-concurrency
N="${BENCH_LLM_N:-60000}"
python3 tests/tools/fake_llm.py --latency-ms 200 > "$work/fake.out" 2> "$work/fake.log" &
pids+=($!)
for _ in $(seq 1 50); do grep -q listening "$work/fake.out" && break; sleep 0.1; done
fport=$(grep -o '[0-9]*$' "$work/fake.out")
bench_setup "benchllm$$" '[classifier]' 'provider = openai' 'rate_limit = 100000000' 'daily_limit = 1000000000' \
  '[openai]' "base_url = http://127.0.0.1:$fport/v1" 'api_key = bench' 'max_inflight = 1000' \
  '[pipeline]' 'max_inflight = 1000'
scripts/gen-issues "$N" > "$work/issues.jsonl"
"$bin" sync bench/llm --from "$work/issues.jsonl" --force --config "$work/bench.conf" >/dev/null 2>&1

# Twice over the same records, in two consumer groups: the LLM stage alone
# ([pipeline] stages = classify: records finish once classified), which is
# what the in-flight window decides, then the whole pipeline (storage and
# publishing, which share the two cores with the fake server).
llm_run() {   # llm_run STAGES -> sets got, peak
  curl -s -X POST "http://127.0.0.1:$fport/reset" >/dev/null
  bench_start "$1" DISPATCHD_STAGES=$1
  got=$(field "$(python3 bench/consume/measure.py "$url" "$N")" msgs_per_s)
  peak=$(curl -s "http://127.0.0.1:$fport/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_in_flight"])')
  cp "$work/$1.log" "${TMPDIR:-/tmp}/bench-classify-run-$1.log"
  bench_stop
}
llm_run classify
llm_got=$got llm_peak=$peak
llm_run full
echo "BENCH llm-concurrency ideal_per_s=5000 achieved_per_s=$llm_got ratio=$(python3 -c "print(round($llm_got / 5000, 3))") in_flight_limit=1000 peak_in_flight_at_server=$llm_peak latency_ms=200 records=$N full_pipeline_per_s=$got full_pipeline_ratio=$(python3 -c "print(round($got / 5000, 3))")"

# rate-limit: the group that read the first records goes on with these
RL_N="${BENCH_RATE_N:-3700}"
curl -s -X POST "http://127.0.0.1:$fport/reset" >/dev/null
scripts/gen-issues "$RL_N" --start-number 1000000 > "$work/rl.jsonl"
"$bin" sync bench/limit --from "$work/rl.jsonl" --force --config "$work/bench.conf" >/dev/null 2>&1
bench_start full CLASSIFY_RATE_LIMIT=3000
t0=$(date +%s)
until [ "$(psql -tA "$dburl" -c "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'bench' AND repository_name = 'limit'")" -ge "$RL_N" ] \
      || [ $(( $(date +%s) - t0 )) -gt 300 ]; do sleep 1; done
peak=$(curl -s "http://127.0.0.1:$fport/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_per_minute"])')
echo "BENCH rate-limit limit_per_s=50 achieved_per_s=$(python3 -c "print(round($peak / 60, 2))") ratio=$(python3 -c "print(round($peak / 3000, 3))") over_limit=$(( peak > 3000 ? peak - 3000 : 0 )) busiest_minute=$peak records=$RL_N latency_ms=200"
bench_stop
