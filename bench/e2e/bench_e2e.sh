#!/usr/bin/env bash
# make bench-e2e, on the real broker and database:
#  - `dispatchd bench e2e`: BENCH_E2E_THROUGHPUT_N (50,000) events with real
#    issue texts (../shared when present; generated at real lengths
#    otherwise) through the whole pipeline, each process's CPU per event,
#    against COPY of the same rows; BENCH_E2E_WORKER=PROGRAM runs another
#    build as the worker (before/after figures);
#  - `dispatchd bench load` (local model): --max-rate for the highest rate
#    whose p99 stays under 1 s with nothing lost (trials of
#    BENCH_E2E_TRIAL_S, 5 s), then BENCH_E2E_EVENTS (30,000) events at half
#    that rate.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
EVENTS="${BENCH_E2E_EVENTS:-30000}" TRIAL_S="${BENCH_E2E_TRIAL_S:-5}"
texts=()
nlbse="$root/../shared/data/nlbse24/issues_train.csv"
[ -f "$nlbse" ] && texts=(--texts "$nlbse")
worker=()
[ -n "${BENCH_E2E_WORKER:-}" ] && worker=(--worker "$BENCH_E2E_WORKER")
bench_servers
# A broker just started is still compiling its JVM code (75 us an event
# instead of 13-15 in the first run): a short unmeasured run first.
"$bin" bench e2e --events 10000 "${texts[@]}" "${worker[@]}" >/dev/null
"$bin" bench e2e --events "${BENCH_E2E_THROUGHPUT_N:-50000}" "${texts[@]}" "${worker[@]}"
bench_setup "benche2e$$"
bench_start e2e
"$bin" bench load --max-rate --rate 500 --trial-s "$TRIAL_S" --p99-target-ms 1000 --drain-s 30 \
  --config "$work/bench.conf" --json > "$work/max.json"
max=$(field "$(cat "$work/max.json")" max_rate)
echo "BENCH e2e-max-rate p99_target_ms=1000 max_rate=$(printf '%.0f' "$max")"
half=$(python3 -c "print(max(1, round($max / 2)))")
"$bin" bench load --rate "$half" --events "$EVENTS" --metrics "$url" --config "$work/bench.conf" | grep '^BENCH'
bench_stop
