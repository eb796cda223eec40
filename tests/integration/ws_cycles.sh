#!/usr/bin/env bash
# 1,000 /ws connect/close cycles (some closed by the client, some cut
# without a close, some refused before the upgrade): dispatchd_ws_clients
# returns to 0, and the process holds no more file descriptors and hardly
# more memory than before.
#   ws_cycles.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=ws-cycles-admin
N=${WS_CYCLES:-1000}
RSS_KB=${WS_CYCLES_RSS_KB:-2048}   # ASan's quarantine keeps freed memory: its run allows more
write_config
start_worker w1 DISPATCHD_ADMIN_TOKEN=$T
pid=${pids[w1]}
cycle() {   # cycle COUNT
  /usr/bin/python3 - "ws://127.0.0.1:${ports[w1]}/ws" "$T" "$1" <<'PY'
import asyncio, socket, sys, websockets
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
async def main():
    for i in range(n):
        if i % 10 == 9:   # refused before the upgrade
            try:
                await websockets.connect(url + "?token=wrong")
            except websockets.exceptions.InvalidStatusCode:
                pass
            continue
        ws = await websockets.connect(url + "?token=" + token)
        if i % 3 == 0:    # cut: no close frame
            ws.transport.abort()
        else:
            await ws.close()
asyncio.run(main())
PY
}
cycle 50   # warm up: first allocations, the loop's buffers
wait_until 10 metric_le w1 dispatchd_ws_clients 0
# The fewest descriptors over 2 s: the readiness check and librdkafka open
# and close connections of their own now and then.
fds() { local m=1000000 n; for _ in 1 2 3 4 5; do n=$(ls /proc/$pid/fd | wc -l); [ "$n" -lt "$m" ] && m=$n; sleep 0.4; done; echo $m; }
fds0=$(fds)
rss0=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
cycle "$N"
wait_until 10 metric_le w1 dispatchd_ws_clients 0
check "dispatchd_ws_clients is back to 0" 0 "$(metric w1 dispatchd_ws_clients)"
sleep 1
fds1=$(fds)
rss1=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "# file descriptors $fds0 -> $fds1, RSS $rss0 -> $rss1 kB after $N cycles"
check_le "no file descriptor left behind (a leak would be hundreds)" "$fds1" $((fds0 + 1))
check_le "RSS grew by at most $RSS_KB kB" $(( rss1 - rss0 )) "$RSS_KB"
gone=$(( $(metric w1 'dispatchd_ws_disconnects_total{reason="client"}') ))
check "every accepted socket was counted gone" yes "$([ "$gone" -ge $(( N * 9 / 10 )) ] && echo yes || echo no)"
stop_worker w1
check "the worker stops cleanly" 0 "$worker_rc"
finish
