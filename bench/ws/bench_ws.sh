#!/usr/bin/env bash
# make bench-ws: `dispatchd bench ws` on the project's broker and database.
# BENCH_WS_N (20,000) issues; BENCH_WS_CLIENTS ("100 1000") client counts.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
bench_servers
clients="${BENCH_WS_CLIENTS:-100 1000}"
"$bin" bench ws --events "${BENCH_WS_N:-20000}" --clients "${clients// /,}"
