#!/usr/bin/env bash
# Fleet-wide /ws: two processes in one consumer group share the input
# partitions; a client on each receives every one of 1,000 events and the
# sync's end, whichever process classified them.
#   ws_fleet.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=ws-fleet-admin
N=${WS_FLEET_EVENTS:-1000}
py=/usr/bin/python3
client="$root/tests/tools/ws_client.py"
write_config
start_worker w1 DISPATCHD_ADMIN_TOKEN=$T
start_worker w2 DISPATCHD_ADMIN_TOKEN=$T
both_own() { [ "$(metric w1 dispatchd_partitions_assigned)" -ge 1 ] && [ "$(metric w2 dispatchd_partitions_assigned)" -ge 1 ]; }
wait_until 60 both_own
check "the group's partitions are shared by the two" 3 \
  $(( $(metric w1 dispatchd_partitions_assigned) + $(metric w2 dispatchd_partitions_assigned) ))
for w in w1 w2; do
  $py "$client" collect "ws://127.0.0.1:${ports[$w]}/ws?token=$T" --out "$work/c$w" --seconds 170 \
    --stop-file "$work/stop" > "$work/c$w.out" 2>&1 &
  pids[c$w]=$!
  wait_until 20 grep -q ready "$work/c$w.out"
done
# The terminal client, on w2, narrowed to the repository.
"$bin" watch --url "http://127.0.0.1:${ports[w2]}" --token "$T" --repo fleet/repo --json \
  > "$work/watch.out" 2> "$work/watch.err" &
pids[watch]=$!
"$bin" watch --url "http://127.0.0.1:${ports[w2]}" --token "$T" --repo other/repo > "$work/watch2.out" 2>&1 &
pids[watch2]=$!
wait_until 10 metric_ge w2 dispatchd_ws_clients 3
sync_issues "$N" fleet/repo
count() { cat "$work/c$1.0" 2>/dev/null | grep -c '"classification_update"'; }
done_both() { [ "$(count w1)" -ge "$N" ] && [ "$(count w2)" -ge "$N" ] && grep -q sync_completed "$work/cw1.0" \
              && grep -q sync_completed "$work/cw2.0"; }
wait_until 150 done_both
sleep 1
touch "$work/stop"
wait "${pids[cw1]}" "${pids[cw2]}"; unset "pids[cw1]" "pids[cw2]"
watched() { [ "$(grep -c '"classification_update"' "$work/watch.out")" -ge "$N" ]; }
wait_until 30 watched
kill -INT "${pids[watch]}" "${pids[watch2]}"
wait "${pids[watch]}"; watch_rc=$?
wait "${pids[watch2]}"; unset "pids[watch]" "pids[watch2]"
check "dispatchd watch --json printed every event, one JSON message a line" "$N" \
  "$(/usr/bin/python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["type"] == "classification_update"))' "$work/watch.out")"
check "dispatchd watch exits 0 on Ctrl-C" 0 "$watch_rc"
check "dispatchd watch --repo other/repo printed nothing" 0 "$(wc -l < "$work/watch2.out")"
"$bin" watch --url "http://127.0.0.1:${ports[w2]}" --token nope > "$work/watch3.out" 2>&1
check "dispatchd watch with a bad token exits 1" 1 "$?"
check "... saying the server refused it (401) and why" yes \
  "$(grep -q '(401).*unauthorized' "$work/watch3.out" && echo yes || echo no)"
p1=$(metric w1 'dispatchd_records_processed_total{result="ok"}')
p2=$(metric w2 'dispatchd_records_processed_total{result="ok"}')
echo "# classified by w1: $p1, by w2: $p2"
check "both processes classified a share" yes "$([ "$p1" -gt 0 ] && [ "$p2" -gt 0 ] && echo yes || echo no)"
distinct() { $py -c '
import json, sys
print(len({json.loads(l)["msg"]["data"]["issue_number"] for l in open(sys.argv[1])
           if json.loads(l)["msg"]["type"] == "classification_update"}))' "$work/c$1.0"; }
check "the client on w1 received every event" "$N" "$(distinct w1)"
check "the client on w2 received every event" "$N" "$(distinct w2)"
check "... each exactly once (w1)" "$N" "$(count w1)"
check "... each exactly once (w2)" "$N" "$(count w2)"
check "both saw the sync complete" "1 1" "$(grep -c sync_completed "$work/cw1.0") $(grep -c sync_completed "$work/cw2.0")"
stop_worker w1
check "w1 stops cleanly" 0 "$worker_rc"
stop_worker w2
check "w2 stops cleanly" 0 "$worker_rc"
finish
