#!/usr/bin/env bash
# Slow /ws clients: during a 10,000-issue sync, 10 clients that stop
# reading are closed with 1013 "slow consumer" (and counted), the process's
# RSS grows no more than in a run without them + 10 x the queue bound + 8 MB
# (a warm-up run first: the pipeline's own working set grows on its first
# large sync), and the fast clients
# receive every event with a p99 latency (record time to receipt) that
# shows no stall against a run without slow clients (at most twice it +
# 50 ms: two cores are shared with Kafka and PostgreSQL, and the p99 of
# one run moves by tens of ms on its own).
#   ws_slow.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=ws-slow-admin
N=${WS_SLOW_EVENTS:-10000}
MEASURE=${WS_SLOW_MEASURE:-1}   # 0 under ASan: its memory and speed say nothing of the release build's
FAST=2
SLOW=10
BOUND_KB=1024
MARGIN_KB=8192
py=/usr/bin/python3
client="$root/tests/tools/ws_client.py"
write_config "max_inflight = 50" "[http]" "ws_queue_bytes = $((BOUND_KB * 1024))"
start_worker w1 DISPATCHD_ADMIN_TOKEN=$T
pid=${pids[w1]}
url="ws://127.0.0.1:${ports[w1]}/ws?token=$T"

# run NAME FIRST_NUMBER WITH_SLOW: a sync of N issues watched by FAST clients
# (one process each), and SLOW stalled ones when WITH_SLOW is 1.
run() {
  local name="$1" first="$2" with_slow="$3" i
  for i in $(seq 1 $FAST); do
    $py "$client" collect "$url" --out "$work/$name-fast$i" --seconds 200 --stop-file "$work/$name.stop" \
      > "$work/$name-fast$i.out" 2>&1 &
    pids[$name-fast$i]=$!
  done
  if [ "$with_slow" = 1 ]; then
    $py "$client" collect "$url" --out "$work/$name-slow" --n $SLOW --slow --seconds 200 \
      --stop-file "$work/$name.resume" > "$work/$name-slow.out" 2>&1 &
    pids[$name-slow]=$!
    wait_until 30 grep -q ready "$work/$name-slow.out"
  fi
  for i in $(seq 1 $FAST); do wait_until 30 grep -q ready "$work/$name-fast$i.out"; done
  rss_before=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  ( peak=0; while kill -0 $pid 2>/dev/null && [ ! -e "$work/$name.stop" ]; do
      r=$(awk '/VmRSS/ {print $2}' /proc/$pid/status); [ "$r" -gt "$peak" ] && peak=$r; echo $peak > "$work/$name.peak"
      sleep 0.1; done ) &
  if [ "$with_slow" = 1 ]; then
    # Once closed, the stalled clients read again (within the 5 s the server
    # gives a slow consumer to take its close): what is left, then the close.
    ( wait_until 120 metric_ge w1 'dispatchd_ws_disconnects_total{reason="slow_consumer"}' $SLOW
      touch "$work/$name.resume" ) &
  fi
  sync_issues "$N" "slow/$name" "$first"
  all_in() {
    for i in $(seq 1 $FAST); do
      [ "$(cat "$work/$name-fast$i.0" 2>/dev/null | grep -c '"classification_update"')" -ge "$N" ] || return 1
    done
  }
  wait_until 180 all_in
  if [ "$with_slow" = 1 ]; then
    wait "${pids[$name-slow]}"; unset "pids[$name-slow]"
  fi
  sleep 1
  touch "$work/$name.stop"
  for i in $(seq 1 $FAST); do wait "${pids[$name-fast$i]}"; unset "pids[$name-fast$i]"; done
  sleep 0.3
  peak_growth=$(( $(cat "$work/$name.peak") - rss_before ))
}
stats() {   # stats NAME: "events_per_client_min p50_ms p99_ms most_progress_in_a_second progress_messages"
  $py - "$work/$1" $FAST <<'EOF'
import datetime, json, sys
lat, counts = [], []
for i in range(1, int(sys.argv[2]) + 1):
    n = 0
    for line in open("%s-fast%d.0" % (sys.argv[1], i)):
        r = json.loads(line)
        if r["msg"]["type"] != "classification_update":
            continue
        n += 1
        t = datetime.datetime.strptime(r["msg"]["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
        lat.append(r["recv_ms"] - t)
    counts.append(n)
lat.sort()
# sync_progress of the sync, by the server's timestamps: the most in any second
prog = sorted(datetime.datetime.strptime(json.loads(l)["msg"]["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
              for l in open("%s-fast1.0" % sys.argv[1]) if json.loads(l)["msg"]["type"] == "sync_progress")
most = max((sum(1 for u in prog if t <= u < t + 1) for t in prog), default=0)
print(min(counts), round(lat[len(lat) // 2]), round(lat[int(len(lat) * 0.99)]), most, len(prog))
EOF
}

run warm 1 0       # the pipeline's own working set (records in flight, buffers) grows here
run base 20001 0
read -r base_n base_p50 base_p99 base_prog_most base_prog <<< "$(stats base)"
base_growth=$peak_growth
run slow 40001 1
read -r slow_n slow_p50 slow_p99 slow_prog_most slow_prog <<< "$(stats slow)"
echo "# without slow clients: p50 $base_p50 ms, p99 $base_p99 ms; with $SLOW slow: p50 $slow_p50 ms, p99 $slow_p99 ms"
echo "# RSS growth during the run with slow clients: $peak_growth kB (bound $SLOW x $BOUND_KB kB + $MARGIN_KB kB;" \
  "the run before grew $base_growth kB)"
echo "# sync_progress messages: $base_prog over the sync, at most $base_prog_most in any second"
check "every fast client received all $N events (without slow clients)" "$N" "$base_n"
check "sync_progress came while the sync ran" yes "$([ "$base_prog" -ge 2 ] && echo yes || echo no)"
check_le "... coalesced: at most 4 a second (5 in a window that straddles)" "$base_prog_most" 5
check "every fast client received all $N events (with slow clients)" "$N" "$slow_n"
check "the $SLOW slow clients were closed as slow consumers" $SLOW \
  "$(metric w1 'dispatchd_ws_disconnects_total{reason="slow_consumer"}')"
check "each read its close: 1013 slow consumer" $SLOW "$(cat "$work"/slow-slow.*.close | grep -c '^1013 .* slow consumer')"
check "no fast client was closed" 0 "$(metric w1 'dispatchd_ws_disconnects_total{reason="protocol_error"}')"
if [ "$MEASURE" = 1 ]; then
  check_le "RSS grew no more than in the run without slow clients + 10 x the queue bound + margin" "$peak_growth" \
    $(( base_growth + SLOW * BOUND_KB + MARGIN_KB ))
  # Slow clients must not stall the fast ones: a stall (a write that
  # waits on a full socket, a loop held) costs a fast client hundreds of
  # ms. The p99 of two runs on two shared cores moves by 20-40 ms on its
  # own (the same build gave 39 and 67 ms), so the bound is twice the run
  # without plus 50 ms; the figures above are the comparison.
  check_le "the fast clients' p99 with slow clients: no stall (at most 2 x the run without + 50 ms)" \
    "$slow_p99" $(( base_p99 * 2 + 50 ))
fi
stop_worker w1
check "the worker stops cleanly" 0 "$worker_rc"
finish
