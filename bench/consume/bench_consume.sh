#!/usr/bin/env bash
# make bench-consume: dispatchd's consumption against the bare librdkafka
# loop, on the real broker, in one run.
#   consume-raw          1,000,000 ~1 KB records, dispatchd with a no-op stage
#   ordered-concurrency  each record held 50 ms (a timer), 10,000 keys,
#                        max_inflight 1,000 per process (333 per partition)
#   backpressure         1,000,000-record backlog, downstream stalled
# BENCH_CONSUME_N overrides the volume (default 1000000).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
N="${BENCH_CONSUME_N:-1000000}"
OC_N="${BENCH_ORDERED_N:-200000}"
bench_setup "bench$$" '[pipeline]' 'stages = noop'
echo "# filling $tag.raw with $N records of ~1 KB over 10,000 keys" >&2
"$ktool" fill "$bootstrap" "$tag.raw" "$N" 1000 10000 >&2

# 1. consume-raw
raw=$(field "$("$ktool" drain "$bootstrap" "$tag.raw" "$N")" msgs_per_s)
bench_start raw
d=$(field "$(python3 bench/consume/measure.py "$url" "$N")" msgs_per_s)
bench_stop
echo "BENCH consume-raw librdkafka_msgs_per_s=$raw dispatchd_msgs_per_s=$d ratio=$(python3 -c "print(round($d / $raw, 3))")"

# 2. ordered-concurrency: ideal = in-flight / latency, capped by the raw rate
inflight=999
ideal=$(python3 -c "print(min($inflight / 0.050, $raw))")
bin="$faults_bin"   # the hold is a fault: only the test binary has it
bench_start ordered DISPATCHD_HOLD_MS=50 DISPATCHD_MAX_INFLIGHT=333 DISPATCHD_ORDERING=key
got=$(field "$(python3 bench/consume/measure.py "$url" "$OC_N")" msgs_per_s)
bench_stop
echo "BENCH ordered-concurrency ideal_msgs_per_s=$(printf '%.0f' "$ideal") achieved_msgs_per_s=$got ratio=$(python3 -c "print(round($got / $ideal, 3))") records=$OC_N keys=10000 max_inflight_per_process=$inflight hold_ms=50"

# 3. backpressure: the stage never finishes; the backlog must stay in Kafka
bench_start stalled DISPATCHD_HOLD_MS=600000 DISPATCHD_MAX_INFLIGHT=1000
peak=0
for _ in $(seq 1 75); do
  sleep 0.2
  kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  [ "$kb" -gt "$peak" ] && peak=$kb
done
paused=$(python3 scripts/lib/metric_value.py "$url" dispatchd_partitions_paused)
taken=$(python3 scripts/lib/metric_value.py "$url" dispatchd_inflight_records)
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
echo "BENCH backpressure backlog=$N peak_rss_mb=$(python3 -c "print(round($peak / 1024, 1))") partitions_paused=$paused records_taken=$taken seconds=15"
