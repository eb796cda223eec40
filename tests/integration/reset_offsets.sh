#!/usr/bin/env bash
# reset-offsets through HTTP, fleet-wide (two processes), done by the
# members that own the partitions: TO_EARLIEST redoes everything,
# TO_DATETIME what came after the time, TO_OFFSET from the given offset,
# TO_LATEST skips what is waiting. Redone records find their rows stored
# and count as skipped; nothing is lost and lag ends at zero.
#   reset_offsets.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config
T=reset-secret
group="$tag-group"
for w in a b; do start_worker $w DISPATCHD_ADMIN_TOKEN=$T; done
spread() { [ $(( $(metric a dispatchd_partitions_assigned) + $(metric b dispatchd_partitions_assigned) )) -eq 3 ] \
           && [ "$(metric a dispatchd_partitions_assigned)" -ge 1 ] && [ "$(metric b dispatchd_partitions_assigned)" -ge 1 ]; }
wait_until 60 spread
total() { echo $(( $(metric a dispatchd_records_processed_total) + $(metric b dispatchd_records_processed_total) )); }
reached() { [ "$(total)" -ge "$1" ]; }
reset() { api a POST "/api/admin/kafka/consumer-groups/$group/reset-offsets" "$1"; }
settled() { api a GET "/api/admin/kafka/consumer-groups/$group/lag"; [ "$(field 'd["total_lag"]')" = 0 ]; }

sync_issues 300 reset/first
wait_until 60 reached 300
sleep 1.5
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.5
sync_issues 300 reset/second 1001
wait_until 60 reached 600
check "both batches processed" 600 "$(total)"

reset '{"strategy":"TO_EARLIEST"}'
check "TO_EARLIEST published" 200 "$code"
wait_until 60 reached 1200
wait_until 30 settled
check "TO_EARLIEST: every record redone, none twice" 1200 "$(total)"

reset '{"strategy":"TO_DATETIME","datetime":"'"$since"'"}'
check "TO_DATETIME published" 200 "$code"
wait_until 60 reached 1500
wait_until 30 settled
sleep 1
check "TO_DATETIME: only the records after the time redone" 1500 "$(total)"

api a GET "/api/admin/kafka/topics/$tag.raw/stats"
hw0=$(field '[p["high"] for p in d["partitions"] if p["partition"] == 0][0]')
reset '{"strategy":"TO_OFFSET","partitions":{"0":'$((hw0 - 10))'}}'
check "TO_OFFSET published" 200 "$code"
wait_until 60 reached 1510
wait_until 30 settled
sleep 1
check "TO_OFFSET: the last 10 records of partition 0 redone" 1510 "$(total)"

api a POST /admin/pause-processing
held() { [ "$(metric a dispatchd_partitions_paused)" -eq "$(metric a dispatchd_partitions_assigned)" ] \
         && [ "$(metric b dispatchd_partitions_paused)" -eq "$(metric b dispatchd_partitions_assigned)" ]; }
wait_until 20 held
sync_issues 100 reset/third 2001
sleep 1
reset '{"strategy":"TO_LATEST"}'
check "TO_LATEST published" 200 "$code"
sleep 2
api a POST /admin/resume-processing
wait_until 30 settled
sleep 1.5
check "TO_LATEST: the waiting records skipped, lag zero" "1510 0" "$(total) $(field 'd["total_lag"]')"
check "rows: every issue once, the skipped batch never stored" 600 \
  "$(sql "SELECT count(DISTINCT github_issue_id) FROM dispatchai.issues")"
reset '{"strategy":"TO_SOMEWHERE"}'
check "an unknown strategy is refused" "400 bad_body" "$code $(field 'd["error"]')"
reset '{"strategy":"TO_DATETIME","datetime":"yesterday"}'
check "a bad datetime is refused" 400 "$code"
for w in a b; do stop_worker $w; done
finish
