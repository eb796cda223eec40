#!/usr/bin/env bash
# Recovery after kill -9: the time from a restart to its first record
# processed, with the default (dynamic) membership and with a static
# group.instance.id, at the default session timeout (no test override).
# A static member takes its old partitions back without waiting for the
# dead one's session to end.
#   restart_speed.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config
sed -i '/^session.timeout.ms\|^heartbeat.interval.ms/d' "$work/dispatchd.conf"
now() { date +%s.%N; }
first_record_after_restart() {   # NAME FIRST_NUMBER [ENV...] -> $work/NAME.secs: restart to a record processed
  local name="$1" first="$2"; shift 2
  start_worker "$name" "$@"
  wait_until 60 metric_ge "$name" dispatchd_partitions_assigned 3
  sync_issues 30 "$name/a" "$first"
  wait_until 60 metric_ge "$name" dispatchd_records_processed_total 30
  kill_worker "$name"
  sync_issues 30 "$name/b" $((first + 1000))
  local t0; t0=$(now)
  start_worker "$name" "$@"
  wait_until 120 metric_ge "$name" dispatchd_records_processed_total 1
  python3 -c "print(round($(now) - $t0, 1))" > "$work/$name.secs"
  wait_until 60 metric_ge "$name" dispatchd_records_processed_total 30
  stop_worker "$name"
}
first_record_after_restart d 1
first_record_after_restart s 5001 DISPATCHD_INSTANCE_ID="$tag-node-1"
dynamic=$(cat "$work/d.secs") static=$(cat "$work/s.secs")
echo "# restart to first record: dynamic membership ${dynamic} s, static ${static} s"
check_le "dynamic: within two 10 s session timeouts" "${dynamic%.*}" 25
check_le "static: without waiting for the dead member's session" "${static%.*}" 8
check "every issue stored once" 120 "$(sql "SELECT count(*) FROM dispatchai.issues")"
finish
