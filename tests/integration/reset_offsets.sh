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

# The same instant written with a UTC offset: an offset dropped would move it
# two hours ahead and redo nothing.
since_plus2=$(date -u -d "$since + 2 hours" +%Y-%m-%dT%H:%M:%S+02:00)
reset '{"strategy":"TO_DATETIME","datetime":"'"$since_plus2"'"}'
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
# Every partition element and key is checked: nothing wrong is published
# (a string "2" once rewound partition 0; keys "" and " 1" did nothing yet
# answered 200).
for body in '{"strategy":"TO_EARLIEST","partitions":["2"]}' '{"strategy":"TO_EARLIEST","partitions":[0,3]}' \
            '{"strategy":"TO_EARLIEST","partitions":[-1]}' '{"strategy":"TO_EARLIEST","partitions":[1.5]}' \
            '{"strategy":"TO_OFFSET","partitions":{"":0}}' '{"strategy":"TO_OFFSET","partitions":{" 1":0}}' \
            '{"strategy":"TO_OFFSET","partitions":{"01":0}}' '{"strategy":"TO_OFFSET","partitions":{"3":0}}' \
            '{"strategy":"TO_OFFSET","partitions":{"1":"5"}}' '{"strategy":"TO_OFFSET","partitions":{"1":-5}}'; do
  reset "$body"
  check "refused: $body" "400 bad_body" "$code $(field 'd["error"]')"
done
reset '{"strategy":"TO_EARLIEST","partitions":["2"]}'
check "the refusal names the element" 'partitions[0]: "2" is not a partition of '"$tag"'.raw (0 to 2)' "$(field 'd["detail"]')"
api a POST "/api/admin/kafka/consumer-groups/$group/pause" '{"partitions":["1"]}'
check "a group pause with a string partition is refused" "400" "$code"
sleep 2
api a GET "/api/admin/kafka/consumer-groups/$group/lag"
check "no refused reset moved anything" "1510 0" "$(total) $(field 'd["total_lag"]')"
for w in a b; do stop_worker $w; done
finish
