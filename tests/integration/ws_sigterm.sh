#!/usr/bin/env bash
# SIGTERM with 100 /ws clients connected: each receives a close frame with
# 1001, and the process exits 0 in bounded time.
#   ws_sigterm.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=ws-sigterm-admin
N=100
write_config
start_worker w1 DISPATCHD_ADMIN_TOKEN=$T
/usr/bin/python3 "$root/tests/tools/ws_client.py" collect "ws://127.0.0.1:${ports[w1]}/ws?token=$T" \
  --out "$work/c" --n $N --seconds 60 > "$work/c.out" 2>&1 &
pids[c]=$!
wait_until 30 grep -q ready "$work/c.out"
check "$N clients connected" $N "$(metric w1 dispatchd_ws_clients)"
t0=$(date +%s%3N)
stop_worker w1
took=$(( $(date +%s%3N) - t0 ))
echo "# exited $took ms after SIGTERM"
check "the worker exits 0" 0 "$worker_rc"
check_le "... within 10 s" "$took" 10000
wait "${pids[c]}"; unset "pids[c]"
check "every client got a close frame with 1001" "$N" "$(cat "$work"/c.*.close | grep -c '^1001 ')"
finish
