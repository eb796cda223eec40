#!/usr/bin/env bash
# kill -9 of a worker mid-stream, then a restart: every message's effect is
# in the idempotent sink exactly once, nothing is lost, and the records done
# twice are counted and bounded by the in-flight window.
#   kill_restart.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
M=3000
MAX_INFLIGHT=100
write_config "max_inflight = $MAX_INFLIGHT" "commit_interval_ms = 50"
sync_issues $M kill/restart

# A slow "model" of 0.1-1.1 s per record: many records are in flight at the
# kill, and many finish out of order above their partition's commit point.
start_worker w1 DISPATCHD_HOLD_MS=100 DISPATCHD_HOLD_JITTER_MS=1000
processed_at_least() { [ "$(metric w1 dispatchd_records_processed_total)" -ge "$1" ]; }
wait_until 120 processed_at_least 900
kill_worker w1
rows_at_kill=$(sql "SELECT count(*) FROM dispatchai.issues")
echo "# killed with $rows_at_kill of $M issues stored"

start_worker w2
all_published() { [ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues WHERE published_at IS NOT NULL")" -eq $M ]; }
wait_until 120 all_published
idle() { [ "$(metric w2 dispatchd_inflight_records)" -eq 0 ]; }
wait_until 30 idle
written=$(metric w2 dispatchd_db_rows_written_total)
skips=$(metric w2 dispatchd_offset_map_skips_total)
stop_worker w2
check "restarted worker exits 0" 0 "$worker_rc"

check "every issue stored once" $M "$(sql "SELECT count(DISTINCT github_issue_id) FROM dispatchai.issues")"
check "every issue classified once" $M "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")"
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 > "$work/enriched.jsonl"
keys=$(grep -o '"key":"[^"]*"' "$work/enriched.jsonl" | sort -u | wc -l)
events=$(grep -c '"key"' "$work/enriched.jsonl")
check "an enriched event for every issue" $M "$keys"
reprocessed=$((written - (M - rows_at_kill)))
# The in-flight window: per partition, up to 2 x max_inflight records taken
# and not yet committable (running, ready, or finished above a slower one),
# plus a mailbox up to its high watermark (max_inflight).
window=$((3 * 3 * MAX_INFLIGHT))
echo "# re-processed after the kill: $reprocessed records (offset-map skips: $skips)"
check_le "re-processed records within the in-flight window" "$reprocessed" "$window"
check "records finished above the commit point were not redone" yes "$([ "$skips" -gt 0 ] && echo yes || echo no)"
echo "# duplicate enriched events: $((events - keys))"
check "no second enriched event for any issue (acknowledged-but-unnoted ones reconciled)" 0 $((events - keys))
finish
