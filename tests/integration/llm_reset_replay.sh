#!/usr/bin/env bash
# An offset reset does not re-spend LLM money (what the Python service did
# after every reset): 100 events classified by the fake LLM, then the group
# is reset TO_EARLIEST: every record is read again, none is sent to the LLM
# (its issue version is classified already), no budget is used, and no
# enriched event goes out twice.
#   llm_reset_replay.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=replay-admin-token
N=100
start_fake_llm --latency-ms 20
write_config
start_worker w1 CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key \
  CLASSIFY_RATE_LIMIT=6000 DISPATCHD_ADMIN_TOKEN=$T
sync_issues $N replay/repo
processed() { [ "$(metric w1 dispatchd_records_processed_total)" -ge "$1" ]; }
wait_until 60 processed $N
check "first pass: one request per event" $N "$(fake_requests)"
api w1 GET /admin/budget-status
used=$(field 'd["used_today"]')
sleep 1   # the first pass's offsets committed
api w1 POST "/api/admin/kafka/consumer-groups/$tag-group/reset-offsets" '{"strategy":"TO_EARLIEST"}'
check "TO_EARLIEST accepted" 200 "$code"
wait_until 60 processed $((2 * N))
sleep 1
check "every record read again" $((2 * N)) "$(metric w1 dispatchd_records_processed_total)"
check "no request for a version classified before" $N "$(fake_requests)"
check "counted as known-version skips" $N "$(metric w1 dispatchd_llm_known_version_skips_total)"
api w1 GET /admin/budget-status
check "no budget used by the replay" "$used" "$(field 'd["used_today"]')"
stop_worker w1
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 > "$work/enriched.jsonl"
check "one enriched event per issue" "$N $N" \
  "$(grep -c '"key"' "$work/enriched.jsonl") $(grep -o '"key":"[^"]*"' "$work/enriched.jsonl" | sort -u | wc -l)"
finish
