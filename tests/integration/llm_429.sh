#!/usr/bin/env bash
# A 429 storm: from 4 s to 10 s after the first request the fake LLM server
# answers every request 429 with Retry-After: 2. Two processes share
# CLASSIFY_RATE_LIMIT = 1200/min. After a 429 is answered, requests wait
# out its Retry-After -- the process that got it at once, the other from
# its next lease (a 429 pauses the group's bucket), so it can still spend
# what it leased before, at most k = 1200/50 = 24 requests within a second:
# the stated bound. The request rate during the storm drops far below the
# rate before it, and nothing is lost: every event is stored, none in the
# DLQ.
#   llm_429.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
N=400 R=1200 RA=2
start_fake_llm --latency-ms 100 \
  --script "{\"rules\": [{\"from_s\": 4, \"until_s\": 10, \"status\": 429, \"retry_after\": $RA}]}"
write_config
"$root/scripts/gen-issues" $N > "$work/issues.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync storm/repo --from "$work/issues.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
for w in w1 w2; do
  start_worker $w CLASSIFIER=openai CLASSIFY_RATE_LIMIT=$R OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" \
    OPENAI_API_KEY=test-key DISPATCHD_LLM_MAX_RETRIES=20 DAILY_CLASSIFICATION_LIMIT=100000
done
all_stored() { [ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")" -ge "$N" ]; }
wait_until 120 all_stored
curl -s "http://127.0.0.1:$fport/stats?log=1" > "$work/stats.json"
read -r n429 waves early before during <<< "$(python3 - "$work/stats.json" $RA <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))["log"]
ra = float(sys.argv[2])
answers = sorted(t for _, t, st in log if st == 429)
# a wave: the 429s answering the requests of one moment
waves, last = 0, -10.0
for t in answers:
    if t - last > 0.5:
        waves += 1
    last = t
# requests that arrived while a Retry-After answered 0.3 s earlier still held
early = sum(1 for a, _, _ in log if any(t + 0.3 <= a < t + ra - 0.1 for t in answers))
before = sum(1 for a, _, _ in log if 1 <= a < 4) / 3.0
during = sum(1 for a, _, _ in log if 4.5 <= a < 10) / 5.5
print(len(answers), waves, early, round(before, 1), round(during, 1))
PY
)"
echo "# 429s: $n429 in $waves waves; requests per second before the storm $before, during $during;" \
     "requests inside a Retry-After: $early"
check "the storm happened" yes "$([ "$n429" -gt 0 ] && echo yes || echo no)"
check_le "requests inside a Retry-After (at most k = 24 per wave)" "$early" $((24 * waves))
check "the rate dropped to under a quarter during the storm" yes \
  "$(python3 -c "print('yes' if $during < $before / 4 else 'no')")"
c429=$(( $(metric w1 'dispatchd_llm_requests_total{code="429"}') + $(metric w2 'dispatchd_llm_requests_total{code="429"}') ))
check "the processes counted the 429s" "$n429" "$c429"
check "every event stored" $N "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")"
check "nothing dead-lettered" 0 "$("$ktool" dump "$bootstrap" "$tag.dlq" 1000 | grep -c '"key"')"
stop_worker w1
stop_worker w2
finish
