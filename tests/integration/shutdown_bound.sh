#!/usr/bin/env bash
# A stop signal ends the process within shutdown_timeout_ms, whatever is
# stuck: (1) records held in flight by a stalled stage (the consumer's close
# waits for every fetched message to be let go), and (2) a broker that went
# away. Each exits non-zero when work was abandoned and logs the step.
#   shutdown_bound.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config "drain_timeout_ms = 2000" "shutdown_timeout_ms = 8000"

# (1) a stalled stage holding records
touch "$work/stall"
start_worker w DISPATCHD_STALL_FILE="$work/stall"
wait_until 60 metric_ge w dispatchd_partitions_assigned 3
sync_issues 50 stuck/repo
wait_until 30 metric_ge w dispatchd_inflight_records 50
check "records held in flight" 50 "$(metric w dispatchd_inflight_records)"
t0=$SECONDS
stop_worker w
check_le "stalled: stopped within the 8 s bound (+2 s)" $((SECONDS - t0)) 10
check "stalled: exit 3 (work abandoned)" 3 "$worker_rc"
check "stalled: the log names what was abandoned" 1 \
  "$(grep -c -e 'drain timed out with 50 records in flight; abandoned' "$work/w.log")"
rm -f "$work/stall"

# (2) the broker goes away under a running worker
# Its ports below the kernel's ephemeral range (32768 and up here), where an
# outgoing connection cannot hold them, and free now.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
  k2port=$((20000 + RANDOM % 12000))
  port_free "$k2port" && port_free $((k2port + 1)) && break
done
export DISPATCHD_VAR="$work/var2" DISPATCHD_KAFKA_PORT=$k2port DISPATCHD_KAFKA_CONTROLLER_PORT=$((k2port + 1))
trap '"$root/scripts/kafka" stop >/dev/null 2>&1; cleanup' EXIT   # the second broker only
"$root/scripts/kafka" start >/dev/null || { echo "second broker did not start"; exit 1; }
sed -i "s/^bootstrap.servers = .*/bootstrap.servers = 127.0.0.1:$k2port/" "$work/dispatchd.conf"
"$bin" topics ensure --config "$work/dispatchd.conf" >/dev/null
start_worker g
wait_until 60 metric_ge g dispatchd_partitions_assigned 3
bootstrap="127.0.0.1:$k2port" sync_issues 30 gone/repo
wait_until 60 metric_ge g dispatchd_records_processed_total 30
check "records processed before the broker went away" 30 "$(metric g dispatchd_records_processed_total)"
kill -9 "$(cat "$DISPATCHD_VAR/kafka/kafka.pid")"
sleep 2
t0=$SECONDS
stop_worker g
check_le "broker gone: stopped within the 8 s bound (+2 s)" $((SECONDS - t0)) 10
echo "# broker gone: exit $worker_rc after $((SECONDS - t0)) s; last step: $(grep -o '"msg":"[^"]*' "$work/g.log" | tail -2 | tr '\n' ' ')"
"$root/scripts/kafka" stop >/dev/null 2>&1
finish
