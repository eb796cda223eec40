#!/usr/bin/env bash
# make bench-consume: `dispatchd bench consume` on the project's broker
# (consume-raw, the shipped binary), then the held runs, which only the
# test build has (`dispatchd-faults bench consume --held-only`: the hold is
# a test fault). BENCH_CONSUME_N overrides the volume (default 1000000),
# BENCH_ORDERED_N the ordered-concurrency run's (default 200000).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
bench_servers
"$bin" bench consume --records "${BENCH_CONSUME_N:-1000000}"
"$faults_bin" bench consume --held-only --records "${BENCH_CONSUME_N:-1000000}" \
  --ordered-records "${BENCH_ORDERED_N:-200000}"
