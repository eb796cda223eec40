#!/usr/bin/env bash
# PostgreSQL restarted (pg_ctl restart) while ~100,000 events flow: the
# storage actors reconnect with capped backoff, keep and retry their
# batches, consumption pauses meanwhile; afterwards every issue is stored
# and classified exactly once and has exactly one enriched event.
#   pg_restart.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
M=${PG_RESTART_EVENTS:-100000}
write_config
sync_issues $M pg/restart

start_worker w1
stored_some() { [ "$(metric w1 dispatchd_db_rows_written_total)" -ge $((M / 5)) ]; }
wait_until 300 stored_some
before=$(metric w1 dispatchd_db_rows_written_total)
"$root/scripts/postgres" restart >/dev/null
echo "# PostgreSQL restarted with $before of $M rows written"
all_published() {
  [ "$(psql -tA "$dburl" -c "SELECT count(*) FROM dispatchai.enriched_issues WHERE published_at IS NOT NULL" 2>/dev/null)" = "$M" ]
}
wait_until 600 all_published
idle() { [ "$(metric w1 dispatchd_inflight_records)" -eq 0 ]; }
wait_until 60 idle
reconnects=$(metric w1 dispatchd_db_reconnects_total)
dlq=$(metric w1 dispatchd_db_rows_dead_lettered_total)
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
echo "# reconnects: $reconnects"
check "the storage actors reconnected" yes "$([ "$reconnects" -ge 1 ] && echo yes || echo no)"
check "no row was sent to the DLQ over the restart" 0 "$dlq"
check "every issue stored once" $M "$(sql "SELECT count(*) FROM dispatchai.issues")"
check "every issue classified once" $M "$(sql "SELECT count(*) FROM dispatchai.enriched_issues")"
"$ktool" dump "$bootstrap" "$tag.enriched" 5000 > "$work/enriched.jsonl"
check "one enriched event per issue" "{\"count\":$M}" "$(tail -1 "$work/enriched.jsonl")"
check "no DLQ records" '{"count":0}' "$("$ktool" dump "$bootstrap" "$tag.dlq" 2000 | tail -1)"
finish
