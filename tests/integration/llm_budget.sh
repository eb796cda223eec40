#!/usr/bin/env bash
# Daily budgets shared by two processes (CONTRACT DAILY_CLASSIFICATION_LIMIT,
# [user_limits]): a group budget of B = 150 LLM classifications and alice's
# own of 50. Two users' syncs (alice and bob, 200 events each) go to two
# processes: the fake LLM server sees exactly 150 requests (every grant is
# taken before its request, so the in-flight window adds nothing), alice's
# 50, the rest wait (with small in-flight windows their partitions pause); /admin/budget-status and the
# metrics say so. Restarted with the limits raised, work resumes up to the
# new limits; restarted with budget_mode = fallback, the rest is classified
# locally without a request. Nothing is lost: every event ends stored.
#   llm_budget.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=budget-admin-token
start_fake_llm --latency-ms 20
write_config '[user_limits]' 'alice = 50'
stored() { sql "SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id
                WHERE i.repository_owner = '$1'${2:+ AND e.provider = '$2'}"; }
llm=(CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key
     DISPATCHD_ADMIN_TOKEN=$T DISPATCHD_LLM_MAX_INFLIGHT=16 CLASSIFY_RATE_LIMIT=6000)
start_pair() {   # start_pair ENV=VALUE...: w1 and w2, same settings
  start_worker w1 "${llm[@]}" "$@"
  start_worker w2 "${llm[@]}" "$@"
}
stop_pair() { stop_worker w1; local rc1=$worker_rc; stop_worker w2; worker_rc=$((rc1 + worker_rc)); }
total_stored() { [ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")" -ge "$1" ]; }
both() { echo $(( $(metric w1 "$1") + $(metric w2 "$1") )); }
waiting() { [ "$(both dispatchd_budget_waiting_records)" -ge "$1" ]; }

# 1. B = 150 for the group, alice 50. Every event fits the partitions'
# in-flight windows, so alice's spent budget holds only her own records.
# The events are published once both processes own partitions.
start_pair DAILY_CLASSIFICATION_LIMIT=150
shared() { [ "$(metric w1 dispatchd_partitions_assigned)" -gt 0 ] && [ "$(metric w2 dispatchd_partitions_assigned)" -gt 0 ]; }
wait_until 30 shared
for u in alice bob; do
  if [ $u = alice ]; then n0=1; else n0=1001; fi
  "$root/scripts/gen-issues" 200 --start-number $n0 > "$work/$u.jsonl"
  KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync $u/repo --from "$work/$u.jsonl" --force --user $u \
    --config "$work/dispatchd.conf" >/dev/null 2>&1
done
wait_until 60 total_stored 150
wait_until 30 waiting 250
sleep 2   # time for any overshoot to show
check "the server saw exactly the budget" 150 "$(fake_requests)"
check "alice's classifications: her limit" 50 "$(stored alice)"
check "bob's: the rest of the group's" 100 "$(stored bob)"
check "the other 250 wait" 250 "$(both dispatchd_budget_waiting_records)"
check "both processes spent the budget" yes \
  "$([ "$(metric w1 'dispatchd_llm_requests_total{code="200"}')" -gt 0 ] &&
      [ "$(metric w2 'dispatchd_llm_requests_total{code="200"}')" -gt 0 ] && echo yes || echo no)"
api w1 GET /admin/budget-status
check "budget-status answers" 200 "$code"
check "budget-status: limit, used, remaining, percentage" "150 150 0 100.0" \
  "$(field '"%d %d %d %.1f" % (d["daily_limit"], d["used_today"], d["remaining"], d["percentage_used"])')"
check "dispatchd_budget_remaining" 0 "$(metric w2 dispatchd_budget_remaining)"
check "nothing dead-lettered" 0 "$("$ktool" dump "$bootstrap" "$tag.dlq" 1000 | grep -c '"key"')"
stop_pair
check "workers holding records for the budget stop cleanly" 0 "$worker_rc"
check "and at once (no drain timeout)" 0 "$(cat "$work/w1.log" "$work/w2.log" | grep -c 'drain timed out')"

# 1b. the same budget with small in-flight windows: the held records fill
# them and the partitions pause -- consumption stops, nothing is dropped.
start_pair DAILY_CLASSIFICATION_LIMIT=150 DISPATCHD_MAX_INFLIGHT=20
paused() { [ "$(both dispatchd_partitions_paused)" -ge 3 ]; }
wait_until 30 paused
check "spent budget: every partition paused" 3 "$(both dispatchd_partitions_paused)"
check "spent budget: no request" 150 "$(fake_requests)"
# Waiting costs nothing: no busy loop while everything is held.
cpu_ticks() { awk '{print $14 + $15}' "/proc/${pids[$1]}/stat"; }
t1=$(( $(cpu_ticks w1) + $(cpu_ticks w2) )); sleep 5; t2=$(( $(cpu_ticks w1) + $(cpu_ticks w2) ))
echo "# CPU while held: $(( (t2 - t1) * 10 )) ms over 5 s for both processes"
check_le "held, the processes idle (CPU ms over 5 s, both)" $(( (t2 - t1) * 10 )) 500
stop_pair
check "held records given back at once at shutdown (no drain timeout)" 0 \
  "$(cat "$work/w1.log" "$work/w2.log" | grep -c 'drain timed out')"

# 2. the limits raised (group 260, alice 80 in the file), restart: work resumes
sed -i "s/^alice = .*/alice = 80/" "$work/dispatchd.conf"
start_pair DAILY_CLASSIFICATION_LIMIT=260
wait_until 60 total_stored 260
wait_until 30 waiting 140
sleep 2
check "raised: the server saw the new budget" 260 "$(fake_requests)"
check "raised: alice up to her new limit" 80 "$(stored alice)"
check "raised: bob the rest" 180 "$(stored bob)"
api w2 GET /admin/budget-status
check "budget-status after the raise" "260 260 0" "$(field '"%d %d %d" % (d["daily_limit"], d["used_today"], d["remaining"])')"
stop_pair

# 3. budget_mode = fallback: the rest classified locally, no request
start_pair DAILY_CLASSIFICATION_LIMIT=260 DISPATCHD_BUDGET_MODE=fallback
wait_until 60 total_stored 400
check "fallback: no more requests" 260 "$(fake_requests)"
check "fallback: every event stored" 400 "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")"
check "fallback: the rest classified locally" 140 "$(( $(stored alice local) + $(stored bob local) ))"
check "fallbacks counted" 140 "$(both dispatchd_budget_fallbacks_total)"
stop_pair
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 > "$work/enriched.jsonl"
check "every event exactly once in issues.enriched" "400 400" \
  "$(grep -c '"key"' "$work/enriched.jsonl") $(grep -o '"key":"[^"]*"' "$work/enriched.jsonl" | sort -u | wc -l)"
finish
