#!/usr/bin/env bash
# Backpressure: a stalled downstream with a 1,000,000-record backlog. The
# backlog stays in Kafka (peak RSS under 256 MB), every partition reports
# paused, polling goes on; once the stall clears everything is processed.
# The stage is a no-op (no database), so the volume runs in seconds.
#   backpressure.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
BACKLOG="${BACKPRESSURE_BACKLOG:-1000000}"
write_config "stages = noop" "max_inflight = 1000"
"$ktool" fill "$bootstrap" "$tag.raw" "$BACKLOG" 1000 10000 >/dev/null || { echo "fill failed"; exit 1; }
touch "$work/stall"
start_worker w DISPATCHD_STALL_FILE="$work/stall"
all_paused() { [ "$(metric w dispatchd_partitions_paused)" -eq 3 ]; }
wait_until 60 all_paused
peak=0
for _ in $(seq 1 40); do   # 8 s of stall
  kb=$(awk '/VmHWM/ {print $2}' "/proc/${pids[w]}/status")
  [ "$kb" -gt "$peak" ] && peak=$kb
  sleep 0.2
done
taken=$(metric w dispatchd_inflight_records)
check "every partition reports paused while stalled" 3 "$(metric w dispatchd_partitions_paused)"
check "nothing finished while stalled" 0 "$(metric w dispatchd_records_processed_total)"
# Per partition: up to 2 x max_inflight taken before it asks for a pause,
# plus what already waited in its mailbox (the poller stops handing over at
# max_inflight), each overshooting by at most one batch of 256.
check_le "records taken while stalled stay within 3 x (3 x max_inflight + 2 x 256)" "$taken" $((3 * (3 * 1000 + 2 * 256)))
if [ -n "${ASAN_OPTIONS:-}" ]; then
  # AddressSanitizer's shadow memory and quarantine say nothing about ours:
  # the bound is asserted in the Release run of the same test.
  echo "# ASan build: peak RSS $((peak / 1024)) MB reported, not bounded"
else
  check_le "peak RSS in MB with the backlog waiting" $((peak / 1024)) 256
fi
echo "# stalled: $taken records taken of $BACKLOG, peak RSS $((peak / 1024)) MB"
rm "$work/stall"
done_all() { [ "$(metric w dispatchd_records_processed_total)" -ge "$BACKLOG" ]; }
wait_until 300 done_all
check "the whole backlog processed after the stall" "$BACKLOG" "$(metric w dispatchd_records_processed_total)"
stop_worker w
check "worker exits 0" 0 "$worker_rc"
finish
