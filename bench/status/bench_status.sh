#!/usr/bin/env bash
# make bench-status, on the real broker and database, in one run: the
# pipeline at its full rate (BENCH_STATUS_N, 100,000, generated issues
# already in the input topic; the default classifier, storage, publishing)
# with and without BENCH_STATUS_VIEWERS (50) status-page viewers, each
# holding GET /api/status/stream open, polling GET /api/status every second
# and loading GET / every 5 s (status_viewers.c: one epoll loop). Each run
# is a fresh group and database reading the same records; without and with
# in the order ABBA ABBA, and the ratio is of the sums. The viewers run on
# this machine too: their own CPU (viewer_client_cpu_s) is taken from the
# pipeline's, and is printed; so is what serving them costs dispatchd
# alone, measured on an idle process (serve_cpu_pct_of_a_core).
# Targets: the viewers' p99 <= 50 ms, ratio >= 0.97.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
N="${BENCH_STATUS_N:-100000}" VIEWERS="${BENCH_STATUS_VIEWERS:-50}"
bench_setup "benchstatus$$" "[http]" "max_connections = 1024"
echo "# filling $tag.raw with $N generated issues" >&2
scripts/gen-issues "$N" > "$work/issues.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync bench/status --from "$work/issues.jsonl" --force \
  --config "$work/bench.conf" >/dev/null 2>&1

run() {   # run NAME VIEWERS: records/s of a fresh group and database over the whole topic
  local db="${tag}_$1" hport viewers=""
  psql -q "$admin" -c "CREATE DATABASE $db"
  DATABASE_URL="postgresql://postgres@127.0.0.1:$pgport/$db" "$bin" migrate --config "$work/bench.conf" >/dev/null
  rm -f "$work/stop"
  hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if [ "$2" -gt 0 ]; then   # the viewers first: they are there when the records start
    build/bench/status_viewers "$hport" "$2" "$work/stop" > "$work/$1.viewers" &
    viewers=$!
    pids+=("$viewers")
  fi
  bench_start "$1" DATABASE_URL="postgresql://postgres@127.0.0.1:$pgport/$db" DISPATCHD_HTTP_ADDR="127.0.0.1:$hport"
  local rate
  rate=$(field "$(python3 bench/consume/measure.py "$url" "$N")" msgs_per_s)
  touch "$work/stop"
  [ -n "$viewers" ] && wait "$viewers"
  bench_stop
  psql -q "$admin" -c "DROP DATABASE $db"
  echo "$rate"
}
# ABBA, twice: a drift of the machine weighs on both sides alike.
without=0 with=0
for name in bare1 viewed1 viewed2 bare2 bare3 viewed3 viewed4 bare4; do
  case $name in bare*) v=0 ;; *) v=$VIEWERS ;; esac
  r=$(run "$name" "$v")
  [ "$v" = 0 ] && without=$((without + r)) || with=$((with + r))
  echo "# run $name: $r records/s" >&2
done
# What serving the viewers costs dispatchd itself, apart from the
# pipeline and from the viewers' own client: an idle process (its group
# committed to the end) 10 s without viewers, then 10 s with them.
psql -q "$admin" -c "CREATE DATABASE ${tag}_idle"
DATABASE_URL="postgresql://postgres@127.0.0.1:$pgport/${tag}_idle" "$bin" migrate --config "$work/bench.conf" >/dev/null
bench_start idle DATABASE_URL="postgresql://postgres@127.0.0.1:$pgport/${tag}_idle" DISPATCHD_GROUP_ID="$tag-bare4"
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
sleep 3; t0=$(ticks); sleep 10; t1=$(ticks)
rm -f "$work/stop"; (sleep 10; touch "$work/stop") &
build/bench/status_viewers "$port" "$VIEWERS" "$work/stop" > "$work/idle.viewers"
t2=$(ticks)
bench_stop
psql -q "$admin" -c "DROP DATABASE ${tag}_idle"
serve_pct=$(python3 -c "print(round(max(0, ($t2 - $t1) - ($t1 - $t0)) / $(getconf CLK_TCK) / 10 * 100, 2))")
python3 - "$with" "$without" "$VIEWERS" "$serve_pct" "$work"/viewed*.viewers <<'PY'
import json, sys
with_, without, viewers, serve_pct = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
runs = [json.load(open(p)) for p in sys.argv[5:]]
print("BENCH status-page viewers=%d ttfb_p99_ms=%.1f api_status_p99_ms=%.1f pipeline_msgs_per_s_with_viewers=%d "
      "without=%d ratio=%.3f status_requests=%d pushed_min=%d errors=%d viewer_client_cpu_s=%.1f "
      "serve_cpu_pct_of_a_core=%.2f"
      % (viewers, max(r["ttfb_p99_ms"] for r in runs), max(r["api_status_p99_ms"] for r in runs),
         with_ // len(runs), without // len(runs), with_ / without, sum(r["status_requests"] for r in runs),
         min(r["pushed_min"] for r in runs), sum(r["error_count"] for r in runs), sum(r["cpu_s"] for r in runs),
         serve_pct))
PY
