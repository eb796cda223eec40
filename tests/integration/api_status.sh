#!/usr/bin/env bash
# GET /api/status for a group of two processes, against the real broker
# and database: both processes listed with their host, version, uptime,
# RSS and state; every partition once, with its owner, a null committed
# offset before anything was committed, its lag from the broker; a process
# killed -9 shown as gone within 20 s while the other takes its partitions;
# 1,000 requests answered from the snapshot (the snapshot count moves with
# time, not with requests); 20 viewers of the event stream each get the
# document pushed as it changes; a broker error on one partition (injected
# in dispatchd-faults) marks that row and the document is still served.
#   api_status.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config
start_worker w1
start_worker w2
status() {   # status WORKER: GET /api/status into $work/resp
  code=$(curl -s -o "$work/resp" -w '%{http_code}' "http://127.0.0.1:${ports[$1]}/api/status")
}
both_own() {
  status w1
  [ "$(field 'sum(1 for p in d["processes"] if not p["gone"] and p["partitions"])')" = 2 ] &&
    [ "$(field 'all(p["owner"] for p in d["partitions"])')" = True ]
}
wait_until 60 both_own
check "200 with both processes, live, each owning partitions" "200 2 0" \
  "$code $(field 'sum(1 for p in d["processes"] if not p["gone"])') $(field 'sum(1 for p in d["processes"] if p["gone"])')"
check "... their host, version, pid, uptime, RSS and state" True \
  "$(field 'all(p["host"] and p["version"] and p["pid"] > 0 and p["uptime_s"] >= 0 and p["rss_bytes"] > 1000000 and p["state"] == "running" for p in d["processes"])')"
check "every partition once, each owned by one of them" "3 [0, 1, 2] True" \
  "$(field 'len(d["partitions"])') $(field 'sorted(p["partition"] for p in d["partitions"])') $(field 'set(p["owner"] for p in d["partitions"]) == set(x["process_id"] for x in d["processes"])')"
check "nothing committed yet: listed with a null committed offset and lag 0" "True" \
  "$(field 'all(p["committed_offset"] is None and p["lag"] == 0 for p in d["partitions"])')"

check "checks: kafka, database, lag, skew, llm_breaker, llm_budget, processes, each ok/warning/error/unknown" \
  "kafka database lag skew llm_breaker llm_budget processes True" \
  "$(field '" ".join(c["name"] for c in d["checks"])') $(field 'all(c["state"] in ("ok","warning","error","unknown") and c["detail"] for c in d["checks"])')"
check "... all ok, the budget unknown (no LLM here)" "True unknown" \
  "$(field 'all(c["state"] == "ok" for c in d["checks"] if c["name"] != "llm_budget")') $(field '[c["state"] for c in d["checks"] if c["name"] == "llm_budget"][0]')"
( sync_issues 600 st/atus ) &
feeder=$!
flowing() { status w1; [ "$(field 'd["records_per_s"].get("ok", 0) > 0 and d["latency"]["end_to_end_p99_s"] is not None')" = True ]; }
wait_until 60 flowing
check "while records flow: the group's records/s and end-to-end p99 shown" True \
  "$(field 'd["records_per_s"]["ok"] > 0 and d["latency"]["end_to_end_p99_s"] > 0 and d["latency"]["classify_p99_s"] > 0')"
wait "$feeder"
drained() {
  status w2
  [ "$(field 'sum(p["committed_offset"] or 0 for p in d["partitions"])')" = 600 ] && [ "$(field 'd["totals"]["lag"]')" = 0 ] &&
    [ "$(field 'd["totals"]["issues"]')" = 600 ]
}
wait_until 60 drained
check "after 600 events: committed offsets sum to 600, lag 0, 600 issues (asked of the other process)" "600 0 600" \
  "$(field 'sum(p["committed_offset"] for p in d["partitions"])') $(field 'd["totals"]["lag"]') $(field 'd["totals"]["issues"]')"

status w1
before=$(field 'd["snapshot_refreshes"]')
t0=$SECONDS
python3 - "http://127.0.0.1:${ports[w1]}/api/status" <<'PY'
import sys, urllib.request, concurrent.futures
def get(_):
    with urllib.request.urlopen(sys.argv[1]) as r:
        return r.status
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    codes = list(ex.map(get, range(1000)))
assert codes.count(200) == 1000, codes[:5]
PY
check "1,000 requests all answered" 0 $?
status w1
after=$(field 'd["snapshot_refreshes"]')
status w2
elapsed=$((SECONDS - t0 + 2))
check_le "... from the snapshot: w1's refreshes grew with time (${elapsed} s), not with requests" \
  $(( after - before )) $(( elapsed ))

python3 - "http://127.0.0.1:${ports[w1]}/api/status/stream" > "$work/streams" <<'PY'
import json, sys, threading, time, urllib.request
got = []
def viewer():
    events, ctype, docs = 0, None, []
    with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
        ctype = r.headers.get("content-type")
        t0 = time.time()
        while time.time() - t0 < 6:
            line = r.readline().decode()
            if line.startswith("data: "):
                docs.append(json.loads(line[6:]))
    got.append((ctype, docs))
ts = [threading.Thread(target=viewer) for _ in range(20)]
for t in ts: t.start()
for t in ts: t.join()
print(len(got), all(c == "text/event-stream" for c, _ in got), min(len(d) for _, d in got),
      all(len(x["partitions"]) == 3 and x["processes"] for _, d in got for x in d),
      all(d[i]["snapshot_refreshes"] < d[i + 1]["snapshot_refreshes"] or d[i] != d[i + 1] for _, d in got for i in range(len(d) - 1)))
PY
check "20 viewers of /api/status/stream for 6 s: each an event stream of whole documents, at least 3 each, none repeated" \
  "20 True True True" "$(awk '{print $1, $2, ($3 >= 3 ? "True" : "too few: " $3), $4 && $5 ? "True" : $4 " " $5}' "$work/streams")"

w2id=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([p["process_id"] for p in d["processes"] if p["pid"] == int(sys.argv[2])][0])' "$work/resp" "${pids[w2]}")
kill_worker w2
t_kill=$SECONDS
gone() { status w1; [ "$(field "[p['state'] for p in d['processes'] if p['process_id'] == '$w2id'][0]")" = gone ]; }
wait_until 30 gone
check_le "the killed process shown gone within 20 s" $((SECONDS - t_kill)) 20
w1_owns_all() { status w1; [ "$(field "sorted(set(p['owner'] for p in d['partitions'])) == [x['process_id'] for x in d['processes'] if not x['gone']]")" = True ]; }
wait_until 30 w1_owns_all
check "... and the other owns every partition" True \
  "$(field "all(p['owner'] != '$w2id' for p in d['partitions'])")"
check "the processes check warns of the gone one" warning "$(field '[c["state"] for c in d["checks"] if c["name"] == "processes"][0]')"

# A broker error on one partition (injected: the watermark question for
# partition 1 fails in w3's snapshot): that row says so, the rest stand.
start_worker w3 DISPATCHD_FAULT_WATERMARK_PARTITION=1
row_error() { status w3; [ "$code" = 200 ] && [ "$(field '"error" in d["partitions"][1]')" = True ]; }
wait_until 30 row_error
check "one partition's broker error: 200, that row marked with the error, the others with their lag" "200 True True" \
  "$code $(field '"watermarks" in d["partitions"][1]["error"] and "lag" not in d["partitions"][1]') $(field 'all("error" not in p and p["lag"] == 0 and p["high_watermark"] >= 0 for p in d["partitions"] if p["partition"] != 1)')"
stop_worker w3
check "w3 exits 0" 0 "$worker_rc"
stop_worker w1
check "w1 exits 0" 0 "$worker_rc"
finish
