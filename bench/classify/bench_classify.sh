#!/usr/bin/env bash
# make bench-classify: `dispatchd bench classify` -- the local model on the
# NLBSE'24 training file (../shared; without it, generated issues and no
# F1), then --llm against the fake LLM server at 200 ms (tests/tools/
# fake_llm.py) on the project's broker and database. BENCH_LLM_N (60,000)
# and BENCH_RATE_N (3,700) override the LLM runs' volumes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
nlbse="$root/../shared/data/nlbse24/issues_train.csv"
data=()
[ -f "$nlbse" ] && data=(--data "$nlbse")
python3 tests/tools/fake_llm.py --latency-ms 200 > "$work/fake.out" 2> "$work/fake.log" &
pids+=($!)
for _ in $(seq 1 50); do grep -q listening "$work/fake.out" && break; sleep 0.1; done
bench_servers
OPENAI_BASE_URL="http://127.0.0.1:$(grep -o '[0-9]*$' "$work/fake.out")/v1" OPENAI_API_KEY=bench \
  "$bin" bench classify "${data[@]}" --llm --llm-records "${BENCH_LLM_N:-60000}" --rate-records "${BENCH_RATE_N:-3700}"
