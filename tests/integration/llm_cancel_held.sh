#!/usr/bin/env bash
# "Cancelled syncs cost nothing more" for records the LLM stage holds: a
# sync of 100 events by alice meets a daily budget of 20, so 80 wait in the
# llm actor. Cancelling the sync skips them at once (before the cancel is
# answered); a restart with the budget raised sends no request for them.
#   llm_cancel_held.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
SECRET=held-secret
start_fake_llm --latency-ms 20
write_config
llm=(CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key
     DISPATCHD_JWT_SECRET=$SECRET CLASSIFY_RATE_LIMIT=6000)
start_worker w1 "${llm[@]}" DAILY_CLASSIFICATION_LIMIT=20
"$root/scripts/gen-issues" 100 > "$work/issues.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync held/repo --from "$work/issues.jsonl" --force --user alice \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
waiting() { [ "$(metric w1 dispatchd_budget_waiting_records)" -ge 80 ]; }
wait_until 60 waiting
check "80 records held by the budget" 80 "$(metric w1 dispatchd_budget_waiting_records)"
code=$(curl -s -o "$work/resp" -w '%{http_code}' -X DELETE \
       -H "Authorization: Bearer $("$root/scripts/lib/jwt.py" alice "$SECRET")" \
       "http://127.0.0.1:${ports[w1]}/repos/held/repo/sync")
check "cancel answers 200" 200 "$code"
check "the held records are skipped by the time the cancel is answered" 0 \
  "$(metric w1 dispatchd_budget_waiting_records)"
check "counted as cancelled-sync skips" 80 "$(metric w1 dispatchd_cancelled_sync_events_total)"
stop_worker w1
start_worker w2 "${llm[@]}" DAILY_CLASSIFICATION_LIMIT=1000
caught_up() { [ "$(metric w2 dispatchd_partitions_assigned)" -eq 3 ] && [ "$(metric w2 dispatchd_consumer_lag)" = 0 ]; }
sleep 3
wait_until 30 caught_up
check "the group has every offset committed" 0 "$(metric w2 dispatchd_consumer_lag)"
check "after a restart with budget to spare: no request for the cancelled sync" 20 "$(fake_requests)"
stop_worker w2
finish
