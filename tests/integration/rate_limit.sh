#!/usr/bin/env bash
# Two processes of one group share CLASSIFY_RATE_LIMIT = 600 requests a
# minute: the fake LLM server never sees more than 600 in any 60 seconds,
# and the sustained rate is within 5% of it; both processes take part, and
# every record is stored (held while limited, never dropped).
#   rate_limit.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
R=600
N=${RATE_LIMIT_EVENTS:-780}
start_fake_llm --latency-ms 20
write_config
"$root/scripts/gen-issues" "$N" > "$work/issues.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync limit/repo --from "$work/issues.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
for w in w1 w2; do
  start_worker $w CLASSIFIER=openai CLASSIFY_RATE_LIMIT=$R OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" \
    OPENAI_API_KEY=test-key
done
all_stored() { [ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")" -ge "$N" ]; }
wait_until 200 all_stored
stats=$(curl -s "http://127.0.0.1:$fport/stats")
peak=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["max_per_minute"])' "$stats")
w1=$(metric w1 'dispatchd_llm_requests_total{code="200"}')
w2=$(metric w2 'dispatchd_llm_requests_total{code="200"}')
echo "# busiest 60 s at the server: $peak requests (limit $R); by process: $w1 + $w2"
if [ "$N" -ge 700 ]; then
  check_le "never more than the limit in any 60 seconds" "$peak" $R
  check "sustained within 5% of the limit" yes "$(python3 -c "print('yes' if $peak >= 0.95 * $R else 'no')")"
else
  echo "# $N events are less than a minute's worth: the per-minute checks are the full-size run's"
fi
check "both processes shared the work" yes "$([ "$w1" -gt 0 ] && [ "$w2" -gt 0 ] && echo yes || echo no)"
check "every record stored" "$N" "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")"
stop_worker w1
stop_worker w2
finish
