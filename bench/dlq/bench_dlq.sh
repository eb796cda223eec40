#!/usr/bin/env bash
# make bench-dlq: `dispatchd bench dlq --isolation` on the project's broker
# and database, the LLM being the fake (tests/tools/fake_llm.py) at
# BENCH_DLQ_LLM_MS (10) ms a request, scripted to fail the badfail*
# repositories. BENCH_DLQ_KEYS (2,000), BENCH_DLQ_VERSIONS (10) and
# BENCH_DLQ_REPLAY (100,000) override the volumes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
python3 tests/tools/fake_llm.py --latency-ms "${BENCH_DLQ_LLM_MS:-10}" > "$work/fake.out" 2> "$work/fake.log" &
pids+=("$!")
for _ in $(seq 1 100); do grep -q listening "$work/fake.out" && break; sleep 0.1; done
fport=$(grep -o '[0-9]*$' "$work/fake.out")
curl -s -X POST -d '{"rules": [{"match": "Repository: badfail", "status": 500}]}' "http://127.0.0.1:$fport/script" >/dev/null
bench_servers
OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=bench "$bin" bench dlq --isolation \
  --keys "${BENCH_DLQ_KEYS:-2000}" --versions "${BENCH_DLQ_VERSIONS:-10}" --replay-records "${BENCH_DLQ_REPLAY:-100000}"
