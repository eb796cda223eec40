#!/usr/bin/env bash
# The control plane against careless and hostile clients: 100 MB bodies
# (signed and unsigned, chunked and not) are refused with 413 while RSS
# stays flat; a webhook delivery too large for Kafka is 413, never 5xx;
# 1,000 requests to distinct unknown and long paths add no metric series,
# and promtool finds the exposition clean; the route table answers 401/403
# before 405 before 404 as it should; 21,000 idle connections (past
# the cap and past the process's file limit) leave /health answering.
#   http_limits.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
abuse="$root/tests/tools/http_abuse.py"
write_config
S=limits-secret T=admin
start_worker w GITHUB_WEBHOOK_SECRET=$S DISPATCHD_ADMIN_TOKEN=$T DISPATCHD_HTTP_MAX_CONNECTIONS=1024
port=${ports[w]}
rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/${pids[w]}/status"; }
health() { curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health"; }
base=$(rss)

for mode in plain chunked; do
  for sig in signed unsigned; do
    check "100 MB $mode $sig webhook body refused" 413 "$(python3 "$abuse" bigbody "$port" /webhook/github 100 $mode $sig $S)"
  done
done
check "100 MB body on an admin path refused" 413 \
  "$(python3 "$abuse" bigbody "$port" /admin/pause-processing 100 plain unsigned x)"
check_le "RSS grew by at most 32 MB while refusing 500 MB of bodies" $(( $(rss) - base )) 32
echo "# RSS $base MB before, $(rss) MB after"

check "a signed delivery too large for Kafka (1,000,000 bytes) is 413" 413 \
  "$(python3 "$abuse" webhook "$port" $S 1000000)"
check "a signed delivery of 2 MB is 413" 413 "$(python3 "$abuse" webhook "$port" $S 2000000)"
check "a signed delivery of 10 KB is accepted" 202 "$(python3 "$abuse" webhook "$port" $S 10000)"

curl -s "http://127.0.0.1:$port/metrics" > "$work/m1"
series_before=$(grep -c '^dispatchd_http_requests_total{' "$work/m1")
for i in 1 2 3; do api w POST "/api/admin/kafka/consumer-groups/g$i/reset-offsets" '{"strategy":"nope"}'; done
check "statuses of 1,000 odd paths" "404" "$(python3 "$abuse" paths "$port" 1000)"
curl -s "http://127.0.0.1:$port/metrics" > "$work/m2"
series_after=$(grep -c '^dispatchd_http_requests_total{' "$work/m2")
check_le "1,003 requests to new paths added at most 3 series (/metrics itself, other 404, reset-offsets 400)" \
  $((series_after - series_before)) 3
check "a long route template is one series" 1 \
  "$(grep -c '^dispatchd_http_requests_total{path="/api/admin/kafka/consumer-groups/{group}/reset-offsets",code="400"}' "$work/m2")"
check "the reset-offsets series counted all three" 3 \
  "$(grep '^dispatchd_http_requests_total{path="/api/admin/kafka/consumer-groups/{group}/reset-offsets",code="400"}' "$work/m2" | awk '{print $2}')"
check "promtool check metrics finds nothing" "" "$(promtool check metrics < "$work/m2" 2>&1)"

# The route table: who may call is checked first, then the method, then
# the path's parameters; a path longer than any template is unknown.
http_code() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
check "GET on a POST-only admin path is 405" 405 \
  "$(http_code -H "Authorization: Bearer $T" "http://127.0.0.1:$port/admin/pause-processing")"
check "the 405 names the allowed method" 1 "$(grep -c '"use POST"' "$work/body")"
check "without the admin token the method is not discussed: 401" 401 \
  "$(http_code "http://127.0.0.1:$port/admin/pause-processing")"
check "DELETE /health is 405" 405 "$(http_code -X DELETE "http://127.0.0.1:$port/health")"
check "PUT on /repos/{owner}/{repo}/sync: user tokens off, so 403 first" 403 \
  "$(http_code -X PUT "http://127.0.0.1:$port/repos/o/r/sync")"
check "a path one segment past a template is 404" 404 \
  "$(http_code -H "Authorization: Bearer $T" "http://127.0.0.1:$port/api/admin/kafka/topics/a/b/stats")"
check "an empty {group} segment is 404" 404 \
  "$(http_code -X POST -H "Authorization: Bearer $T" "http://127.0.0.1:$port/api/admin/kafka/consumer-groups//pause")"

# The flood: two clients of 10,500 idle connections each (one process may
# open 20,000 files here, as dispatchd may).
python3 "$abuse" flood "$port" 10500 25 > "$work/flood1" &
f1=$!
python3 "$abuse" flood "$port" 10500 25 > "$work/flood2" &
f2=$!
sleep 8
answered=0
for _ in $(seq 1 10); do [ "$(health)" = 200 ] && answered=$((answered + 1)); sleep 0.5; done
check "/health answers during a 21,000-connection idle flood" 10 "$answered"
echo "# flood: $(cat "$work/flood1" "$work/flood2" | tr '\n' ' ') connections opened; refused $(metric w dispatchd_http_connections_refused_total), evicted $(metric w dispatchd_http_connections_evicted_total)"
check_le "open files stay near the connection cap" "$(ls /proc/${pids[w]}/fd | wc -l)" 1400
wait $f1 $f2
check "/health after the flood" 200 "$(health)"
stop_worker w
check "worker exits 0" 0 "$worker_rc"
finish
