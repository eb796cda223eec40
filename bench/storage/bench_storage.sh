#!/usr/bin/env bash
# make bench-storage: `dispatchd bench storage` on the project's PostgreSQL
# (scripts/postgres). BENCH_STORAGE_N rows (default 50000), with the titles
# and bodies of real issues when ../shared has them (generated at real
# lengths otherwise); BENCH_STORAGE_NAIVE_N for the naive peer (default
# 2000: it is ~100x slower, the rate is what is compared).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
scripts/postgres start >/dev/null
texts=()
nlbse="$root/../shared/data/nlbse24/issues_train.csv"
[ -f "$nlbse" ] && texts=(--texts "$nlbse")
DATABASE_URL="postgresql://postgres@127.0.0.1:${DISPATCHD_PG_PORT:-15432}/postgres" DISPATCHD_LOG=${DISPATCHD_LOG:-warn} \
  build/dispatchd bench storage --rows "${BENCH_STORAGE_N:-50000}" --naive-rows "${BENCH_STORAGE_NAIVE_N:-2000}" "${texts[@]}"
