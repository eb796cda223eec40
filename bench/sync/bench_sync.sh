#!/usr/bin/env bash
# make bench-sync: `dispatchd bench sync bench/sync` on the project's broker
# and database, against the fake GitHub (tests/tools/fake_github.py) with
# BENCH_SYNC_PAGE_MS (50) per page and BENCH_SYNC_N (20,000) issues.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
/usr/bin/python3 tests/tools/fake_github.py --repo bench/sync --issues "${BENCH_SYNC_N:-20000}" \
  --page-ms "${BENCH_SYNC_PAGE_MS:-50}" > "$work/gh.out" 2> "$work/gh.log" &
pids+=("$!")
for _ in $(seq 1 100); do grep -q listening "$work/gh.out" && break; sleep 0.1; done
bench_servers
GITHUB_API_URL="http://127.0.0.1:$(grep -o '[0-9]*$' "$work/gh.out")" "$bin" bench sync bench/sync
