#!/usr/bin/env bash
# The admin plane, fleet-wide through the control topic: pause and resume
# of the whole group and of listed partitions reach every process, also for
# partitions a process is assigned later; lag stays true for paused
# partitions (it comes from the broker); topic stats count messages.
#   admin_control.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config
T=admin-secret
group="$tag-group"
for w in a b; do start_worker $w DISPATCHD_ADMIN_TOKEN=$T DISPATCHD_HOLD_MS=5; done
assigned() { echo $(( $(metric a dispatchd_partitions_assigned) + $(metric b dispatchd_partitions_assigned) )); }
spread() { [ "$(metric a dispatchd_partitions_assigned)" -ge 1 ] && [ "$(metric b dispatchd_partitions_assigned)" -ge 1 ] \
           && [ "$(assigned)" -eq 3 ]; }
wait_until 60 spread

check "admin without a token is refused" 401 \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:${ports[a]}/admin/pause-processing")"
check "admin with a wrong token is refused" 401 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  -H 'Authorization: Bearer nope' "http://127.0.0.1:${ports[a]}/admin/pause-processing")"
api a GET /admin/processing-status
check "status: enabled before any pause" "200 True" "$code $(field 'd["enabled"]')"

api a POST /admin/pause-processing
check "pause-processing published" 200 "$code"
held_all() { [ "$(metric a dispatchd_partitions_paused)" -eq "$(metric a dispatchd_partitions_assigned)" ] \
             && [ "$(metric b dispatchd_partitions_paused)" -eq "$(metric b dispatchd_partitions_assigned)" ]; }
wait_until 20 held_all
check "both processes hold every partition they own" "3" \
  "$(( $(metric a dispatchd_partitions_paused) + $(metric b dispatchd_partitions_paused) ))"
sync_issues 300 admin/one
sleep 2
check "nothing processed while paused" 0 \
  "$(( $(metric a dispatchd_records_processed_total) + $(metric b dispatchd_records_processed_total) ))"
api b GET /admin/processing-status
check "status on the other process: disabled" False "$(field 'd["enabled"]')"
api a GET "/api/admin/kafka/consumer-groups/$group/lag"
check "lag counts the waiting records of paused partitions" "200 300" "$code $(field 'd["total_lag"]')"
api a GET "/api/admin/kafka/topics/$tag.raw/stats"
check "topic stats count the messages" "200 300 3" "$code $(field 'd["messages"]') $(field 'd["partition_count"]')"

# The owner of a partition dies while paused: the survivor holds it too.
kill_worker b
owns_all() { [ "$(metric a dispatchd_partitions_assigned)" -eq 3 ]; }
wait_until 60 owns_all
sleep 1
check "a partition assigned later is held too" "3 0" \
  "$(metric a dispatchd_partitions_paused) $(metric a dispatchd_records_processed_total)"

api a POST /admin/resume-processing
check "resume-processing published" 200 "$code"
processed() { [ "$(metric a dispatchd_records_processed_total)" -ge "$1" ]; }
wait_until 60 processed 300
check "everything processed after resume" 300 "$(metric a dispatchd_records_processed_total)"
no_lag() { api a GET "/api/admin/kafka/consumer-groups/$group/lag"; [ "$(field 'd["total_lag"]')" = 0 ]; }
wait_until 20 no_lag
check "lag back to zero" 0 "$(field 'd["total_lag"]')"

# Listed partitions only.
api a POST "/api/admin/kafka/consumer-groups/$group/pause" '{"topic":"'"$tag.raw"'","partitions":[0]}'
check "partition pause published" 200 "$code"
one_held() { [ "$(metric a 'dispatchd_partition_paused{partition="0"}')" = 1 ]; }
wait_until 20 one_held
sync_issues 300 admin/two 1001
others_done() { api a GET "/api/admin/kafka/consumer-groups/$group/lag"
                [ "$(field 'sum(p["lag"] for p in d["partitions"] if p["partition"] != 0)')" = 0 ] \
                && [ "$(field '[p["lag"] for p in d["partitions"] if p["partition"] == 0][0]')" -gt 0 ]; }
wait_until 30 others_done
check "only partition 0 waits" yes "$(others_done && echo yes || echo no)"
api a POST "/api/admin/kafka/consumer-groups/$group/resume" '{"partitions":[0]}'
wait_until 60 processed 600
check "partition 0 drains after its resume" 600 "$(metric a dispatchd_records_processed_total)"
api a POST "/api/admin/kafka/consumer-groups/$group/pause" '{"partitions":["x"]}'
check "a bad body is refused with the reason" "400 bad_body" "$code $(field 'd["error"]')"
stop_worker a
check "worker exits 0" 0 "$worker_rc"
finish
