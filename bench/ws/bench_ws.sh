#!/usr/bin/env bash
# make bench-ws: /ws fan-out on the real broker, the pipeline at its full
# rate. For C = 100 and 1,000 clients (ws_fanout, one epoll loop) a sync of
# BENCH_WS_N issues is classified, stored and published while every client
# receives every event. Compared with the ideal (each client receiving
# each event as fast as the pipeline makes them): delivered/s over C x
# events/s, where the events' rate is taken from their record times and
# the delivery window runs from the first record to the last receipt.
# Latency is record time (classification stored, event published) to
# receipt. Memory per idle client: RSS with C idle sockets over RSS before.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
N="${BENCH_WS_N:-20000}"
CLIENTS="${BENCH_WS_CLIENTS:-100 1000}"
T=bench-ws-admin
bench_setup "benchws$$" "[http]" "ws_max_clients = 4096"
first=1
for C in $CLIENTS; do
  bench_start "ws$C" DISPATCHD_ADMIN_TOKEN=$T   # a fresh process: its idle memory per client is measured
  sleep 3   # the process settles (model, clients, first fetches) before its RSS is read
  rss0=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  [ -n "$port" ] || { cat "$work/ws$C.log" >&2; exit 1; }
  build/bench/ws_fanout 127.0.0.1 "$port" "$T" "$C" "$N" 300 > "$work/fanout-$C.out" &
  client=$!
  pids+=("$client")
  for _ in $(seq 1 600); do grep -q ready "$work/fanout-$C.out" && break; sleep 0.1; done
  sleep 1
  rss1=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  scripts/gen-issues "$N" --start-number "$first" > "$work/issues.jsonl"
  KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync "bench/ws$C" --from "$work/issues.jsonl" --force \
    --config "$work/bench.conf" > /dev/null 2>&1
  wait "$client"
  first=$((first + N))
  python3 - "$(tail -1 "$work/fanout-$C.out")" "$C" "$N" "$rss0" "$rss1" "$(awk '/VmHWM/ {print $2}' /proc/$pid/status)" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
c, n, rss0, rss1, hwm = (int(x) for x in sys.argv[2:7])
events_s = n / max((r["last_event_ms"] - r["first_event_ms"]) / 1000, 1e-3)
delivered_s = r["delivered"] / max((r["last_recv_ms"] - r["first_event_ms"]) / 1000, 1e-3)
ideal = c * events_s
print("BENCH ws-fanout clients=%d events_per_s=%.0f delivered_per_s=%.0f ideal_per_s=%.0f ratio=%.3f "
      "p50_ms=%d p99_ms=%d peak_rss_mb=%.1f idle_kib_per_client=%.1f delivered=%d/%d closed=%d"
      % (c, events_s, delivered_s, ideal, delivered_s / ideal, r["p50_ms"], r["p99_ms"], hwm / 1024,
         (rss1 - rss0) / c, r["delivered"], c * n, r["closed"]))
PY
  bench_stop
done
