#!/usr/bin/env bash
# The tokens-per-minute bucket (CLASSIFY_TOKEN_LIMIT = T) paces requests
# when it, not the request limit, is the tighter one. The fake LLM server
# reports 500 tokens per answer; each request is reckoned beforehand (bytes
# / 4 plus 300) and settled with the reported usage. At T = 60,000/min the
# bucket refills (T - 2k)/60 = 922 tokens/s (k = 2,324, the largest
# request), so the server should see about 1.84 requests/s once the first
# k are spent; the request limit (6,000/min) would allow 100/s.
#   llm_tokens.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
N=60 T=60000
start_fake_llm --latency-ms 20
write_config
"$root/scripts/gen-issues" $N > "$work/issues.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync tokens/repo --from "$work/issues.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
start_worker w1 CLASSIFIER=openai CLASSIFY_RATE_LIMIT=6000 CLASSIFY_TOKEN_LIMIT=$T \
  OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key
sleep 25
curl -s "http://127.0.0.1:$fport/stats?log=1" > "$work/stats.json"
read -r total rate <<< "$(python3 - "$work/stats.json" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))["log"]
steady = [a for a, _, _ in log if 5 <= a < 20]
print(len(log), round(len(steady) / 15.0, 2))
PY
)"
echo "# $total requests in 25 s; steady rate $rate/s (expected 1.84/s from the token bucket)"
check "the token bucket paces requests (1.84/s within 20%)" yes \
  "$(python3 -c "print('yes' if 1.47 <= $rate <= 2.21 else 'no')")"
# Tokens first: a request is counted before its tokens, so the two reads
# differ at most by the answers arriving in between (about 2 a second).
tok=$(metric w1 dispatchd_llm_tokens_total)
req=$(metric w1 'dispatchd_llm_requests_total{code="200"}')
check "tokens counted from the reported usage (500 an answer)" yes \
  "$([ $((tok % 500)) -eq 0 ] && [ "$tok" -le $((500 * req)) ] && [ "$tok" -ge $((500 * (req - 2))) ] && echo yes || echo no)"
stop_worker w1
# what was still held is read again by the next process (rules: no LLM)
start_worker w2 CLASSIFIER=rules
all_stored() { [ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")" -ge $N ]; }
wait_until 60 all_stored
check "held records are not lost: every event stored" $N "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")"
stop_worker w2
finish
