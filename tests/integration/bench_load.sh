#!/usr/bin/env bash
# `dispatchd bench load` against a running pipeline on the real broker:
# 3,000 events at 600/s all come back, none lost, none twice, percentiles
# ordered and plausible (under the run's length); --json carries the
# documented fields with their types; --sync sends them as a batch sync
# (its row registered, every event counted in it); --compare prints each
# figure's ratio to an earlier run (1.000 against itself); bad flags exit 2
# with a message naming them.
#   bench_load.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config
start_worker w1
url="http://127.0.0.1:${ports[w1]}/metrics"
out=$("$bin" bench load --rate 600 --events 3000 --json --metrics "$url" --drain-s 60 --config "$work/dispatchd.conf")
check "bench load --json: exit 0" 0 $?
echo "$out" > "$work/run1.json"
jq() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$work/run1.json" "$1"; }
check "3,000 sent, 3,000 received, none lost, none twice, none unsent" "3000 3000 0 0 0" \
  "$(jq 'd["sent"]') $(jq 'd["received"]') $(jq 'd["lost"]') $(jq 'd["duplicates"]') $(jq 'd["send_failed"]')"
check "the documented fields, with their types" True \
  "$(jq 'all(isinstance(d[k], t) for k, t in (("rate", float), ("events", int), ("sent", int), ("send_failed", int), ("received", int), ("lost", int), ("duplicates", int), ("seconds", float), ("throughput_per_s", float), ("latency_ms", dict), ("dispatchd", dict))) and all(isinstance(d["latency_ms"][k], float) for k in ("p50", "p90", "p99", "p999", "max")) and all(k in d["dispatchd"] for k in ("max_lag", "max_inflight", "processed_per_s"))')"
check "percentiles ordered, above 0, under the run's length" True \
  "$(jq '0 < d["latency_ms"]["p50"] <= d["latency_ms"]["p90"] <= d["latency_ms"]["p99"] <= d["latency_ms"]["p999"] <= d["latency_ms"]["max"] < (d["seconds"] + 1) * 1000')"
check "throughput near the offered rate (all 3,000 over about 5 s)" True "$(jq '400 <= d["throughput_per_s"] <= 700')"
check "dispatchd's metrics sampled: records/s seen" True "$(jq 'd["dispatchd"]["processed_per_s"] > 0')"

table=$("$bin" bench load --rate 500 --events 1000 --sync --compare "$work/run1.json" --config "$work/dispatchd.conf")
check "--sync with --compare: exit 0" 0 $?
check "... the table and the BENCH line: 1,000 back, none lost" yes \
  "$(grep -q '1000 sent, 1000 received, 0 lost, 0 duplicates' <<<"$table" && grep -q '^BENCH e2e-latency rate=500 events=1000 .* lost=0 dup=0' <<<"$table" && echo yes || echo "$table")"
check "... each figure compared with the first run" yes \
  "$(grep -Eq 'latency_ms.p99 .* ratio [0-9.]+' <<<"$table" && grep -Eq 'events +1000.00 +3000.00  ratio 0.333' <<<"$table" && echo yes || echo "$table")"
check "... counted in a registered batch sync" "1000 1000" \
  "$(sql "SELECT issues_total, issues_synced FROM dispatchai.repository_syncs WHERE user_id = 'bench'" | tr '|' ' ')"
self=$("$bin" bench load --rate 300 --events 300 --json --compare "$work/run1.json" --config "$work/dispatchd.conf" 2>&1 >/dev/null)
check "--json keeps stdout for the document: the comparison on stderr" yes \
  "$(grep -q 'compared with' <<<"$self" && echo yes || echo "$self")"

for bad in "--rate 0 --events 10" "--rate 10" "--rate ten --events 10" "--events 10 --rate 10 --colour red" \
           "--rate 10 --events 10 --compare /nonexistent.json" "--rate 10 --events 10 --from /nonexistent.jsonl"; do
  msg=$("$bin" bench load $bad --config "$work/dispatchd.conf" 2>&1 >/dev/null)
  rc=$?
  check "bench load $bad: exit 2 with a message" "2 yes" "$rc $([ -n "$msg" ] && echo yes)"
done
"$bin" bench nothing >/dev/null 2>&1
check "bench with an unknown suite: exit 2" 2 $?
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
finish
