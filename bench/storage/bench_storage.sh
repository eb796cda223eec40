#!/usr/bin/env bash
# make bench-storage: dispatchd's storage path against COPY and against a
# connection per message, on one PostgreSQL, in one run.
# BENCH_STORAGE_N rows (default 50000); BENCH_STORAGE_NAIVE_N for the naive
# peer (default 2000: it is ~100x slower, the rate is what is compared).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
N="${BENCH_STORAGE_N:-50000}"
NAIVE_N="${BENCH_STORAGE_NAIVE_N:-2000}"
pgport="${DISPATCHD_PG_PORT:-15432}"
tag="benchstorage$$"
work="$(mktemp -d)"
admin="postgresql://postgres@127.0.0.1:$pgport/postgres"
url="postgresql://postgres@127.0.0.1:$pgport/$tag"
scripts/postgres start >/dev/null
cleanup() {
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $tag" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
psql -q "$admin" -c "CREATE DATABASE $tag"
DATABASE_URL="$url" build/dispatchd migrate >/dev/null
scripts/gen-issues "$N" > "$work/issues.jsonl"
echo "# $N issues (issue row + enriched row each); naive peer: $NAIVE_N" >&2
DISPATCHD_LOG=${DISPATCHD_LOG:-warn} build/bench/bench_storage "$url" "$work/issues.jsonl" "$NAIVE_N"
