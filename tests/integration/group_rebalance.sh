#!/usr/bin/env bash
# Three processes in one consumer group: partitions spread across them; a
# graceful stop hands its partition over with no record processed twice; a
# kill -9 loses nothing: the survivors take the partitions over.
#   group_rebalance.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
M=3000
write_config "max_inflight = 100" "commit_interval_ms = 50"
hold=(DISPATCHD_HOLD_MS=30 DISPATCHD_HOLD_JITTER_MS=60)

for w in a b c; do start_worker $w "${hold[@]}"; done
owns_one() { [ "$(metric a dispatchd_partitions_assigned)" = 1 ] && [ "$(metric b dispatchd_partitions_assigned)" = 1 ] \
             && [ "$(metric c dispatchd_partitions_assigned)" = 1 ]; }
wait_until 60 owns_one
check "three partitions spread over three processes" "1 1 1" \
  "$(metric a dispatchd_partitions_assigned) $(metric b dispatchd_partitions_assigned) $(metric c dispatchd_partitions_assigned)"

# Graceful stop mid-stream: no record twice.
sync_issues $M group/graceful
stored_at_least() { [ "$(sql "SELECT count(*) FROM dispatchai.issues")" -ge "$1" ]; }
wait_until 120 stored_at_least 1000
stop_worker c
check "the stopped member exits 0" 0 "$worker_rc"
took_over() { [ $(( $(metric a dispatchd_partitions_assigned) + $(metric b dispatchd_partitions_assigned) )) -eq 3 ]; }
wait_until 60 took_over
check "the two others own all three partitions" 3 \
  $(( $(metric a dispatchd_partitions_assigned) + $(metric b dispatchd_partitions_assigned) ))
all_published() { [ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues WHERE published_at IS NOT NULL")" -eq "$1" ]; }
wait_until 120 all_published $M
written_c=$(logged_total c rows_written)
written_ab=$(( $(metric a dispatchd_db_rows_written_total) + $(metric b dispatchd_db_rows_written_total) ))
echo "# rows written: $written_c by the stopped member, $written_ab by the others"
check "graceful hand-over: every record processed exactly once" $M $((written_c + written_ab))

# kill -9 mid-stream: nothing lost.
sync_issues $M group/kill 100001
wait_until 120 stored_at_least $((M + 800))
kill_worker b
sole_owner() { [ "$(metric a dispatchd_partitions_assigned)" -eq 3 ]; }
wait_until 60 sole_owner
check "the survivor takes every partition after the kill" 3 "$(metric a dispatchd_partitions_assigned)"
wait_until 120 all_published $((2 * M))
check "every issue of both syncs stored once" $((2 * M)) "$(sql "SELECT count(DISTINCT github_issue_id) FROM dispatchai.issues")"
stop_worker a
check "the survivor exits 0" 0 "$worker_rc"
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 > "$work/enriched.jsonl"
check "an enriched event for every issue" $((2 * M)) "$(grep -o '"key":"[^"]*"' "$work/enriched.jsonl" | sort -u | wc -l)"
finish
