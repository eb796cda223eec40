#!/usr/bin/env bash
# A budget raised without a restart: daily_limit = 20 in the file, 60 LLM
# events; 40 wait. The file says 45, SIGHUP: 25 more requests and no more,
# budget-status says 45. A file with an error, SIGHUP: refused with a log
# line, the running limits stay, the process goes on.
#   llm_budget_reload.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=reload-admin-token
start_fake_llm --latency-ms 20
write_config '[classifier]' 'daily_limit = 20'
unset DAILY_CLASSIFICATION_LIMIT
start_worker w1 CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key \
  CLASSIFY_RATE_LIMIT=6000 DISPATCHD_ADMIN_TOKEN=$T
"$root/scripts/gen-issues" 60 > "$work/issues.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync reload/repo --from "$work/issues.jsonl" --force --user alice \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
waiting() { [ "$(metric w1 dispatchd_budget_waiting_records)" -ge "$1" ]; }
wait_until 60 waiting 40
check "budget of 20: 20 requests" 20 "$(fake_requests)"
sed -i 's/^daily_limit = 20$/daily_limit = 45/' "$work/dispatchd.conf"
kill -HUP "${pids[w1]}"
stored() { [ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")" -ge "$1" ]; }
wait_until 30 stored 45
wait_until 10 waiting 15
sleep 1
check "raised to 45 by SIGHUP: 45 requests, no restart" 45 "$(fake_requests)"
check "the other 15 wait" 15 "$(metric w1 dispatchd_budget_waiting_records)"
api w1 GET /admin/budget-status
check "budget-status shows the reloaded limit" "45 45 0" \
  "$(field '"%d %d %d" % (d["daily_limit"], d["used_today"], d["remaining"])')"
echo 'no_such_key = 1' >> "$work/dispatchd.conf"
kill -HUP "${pids[w1]}"
refused() { grep -q 'configuration not reloaded' "$work/w1.log"; }
wait_until 10 refused
check "a bad file is refused with a log line" yes "$(refused && echo yes || echo no)"
sleep 1
check "the running limits stay" 45 "$(fake_requests)"
check "the process goes on" yes "$(kill -0 "${pids[w1]}" && echo yes || echo no)"
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
finish
