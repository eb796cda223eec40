#!/usr/bin/env bash
# The side-by-side suites of `dispatchd bench` run from the binary against
# the broker and database of a configuration (as a user runs them on their
# deployment), each at a small volume: every suite's --json document has
# its figures, with counts that match what was sent and ratios that are
# numbers; --compare prints each figure's ratio; the scratch databases
# are gone afterwards; bad flags exit 2 with a message, --help exits 0.
#   bench_suites.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" root="$3"
faults="$(dirname "$bin")/dispatchd-faults"
source "$(dirname "$0")/lib.sh"
{
  printf '[kafka]\nbootstrap.servers = %s\n' "$bootstrap"
  printf '[database]\nurl = %s\n' "$admin"
  printf '[classifier]\nmodel_file = %s/config/model.bin\n' "$root"
} > "$work/user.conf"
unset KAFKA_BOOTSTRAP_SERVERS DATABASE_URL DISPATCHD_HTTP_ADDR DISPATCHD_GROUP_ID
export DISPATCHD_LOG=warn
scratch() { psql -tA "$admin" -c "SELECT count(*) FROM pg_database WHERE datname LIKE 'bench%'"; }
scratch0=$(scratch)
# d 'STATEMENTS; EXPR': Python over d, the last suite's --json document; prints EXPR
d() {
  python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
head, _, last = sys.argv[2].rpartition(";")
exec(head)
print(eval(last))' "$work/out.json" "$1"
}
suite() {   # suite NAME ARGS...: runs it with --json into out.json; sets rc
  "$bin" bench "$@" --json --config "$work/user.conf" > "$work/out.json" 2> "$work/$1.log"
  rc=$?
}

# runtime: dispatchd's side in a fresh process of its own, the peer's figures read as it prints them
printf '#!/bin/sh\necho "msgs=1000 seconds=0.5 rss_kb=2048"\n' > "$work/peer.sh"
chmod +x "$work/peer.sh"
suite runtime --runs 3 --only pingpong --peer "$work/peer.sh"
check "runtime: exit 0" 0 $rc
check "runtime: pingpong on dispatchd, the peer's 2,000/s and 2 MB read, their ratio" True \
  "$(d 'r = d["savina-pingpong"]; r["dispatchd_msgs_per_s"] > 100000 and r["caf_msgs_per_s"] == 2000 and r["caf_peak_rss_mb"] == 2.0 and abs(r["ratio"] - r["dispatchd_msgs_per_s"] / 2000) < 0.01 * r["ratio"] and list(d) == ["savina-pingpong"]')"
cp "$work/out.json" "$work/runtime.json"
cmp=$("$bin" bench runtime --runs 1 --only pingpong --compare "$work/runtime.json" 2>&1)
check "--compare: each figure against the earlier run" yes \
  "$(grep -Eq 'savina-pingpong.dispatchd_msgs_per_s +[0-9.]+ +[0-9.]+  ratio [0-9.]+' <<<"$cmp" && echo yes || echo "$cmp")"

suite storage --rows 2000 --naive-rows 50
check "storage: exit 0" 0 $rc
check "storage: 2,000 rows through dispatchd and COPY, 50 the naive way, rates and ratios" True \
  "$(d 'c, n = d["storage-vs-copy"], d["storage-vs-naive"]; c["rows"] == 2000 and n["naive_rows"] == 50 and c["dispatchd_rows_per_s"] > 0 and c["copy_rows_per_s"] > 0 and abs(c["ratio"] - c["dispatchd_rows_per_s"] / c["copy_rows_per_s"]) < 0.01 and n["ratio"] > 1')"

suite e2e --events 1000
check "e2e: exit 0" 0 $rc
check "e2e: 1,000 events through the pipeline and by COPY, each side's CPU and the WAL per event" True \
  "$(d 'r = d["e2e-throughput"]; r["events"] == 1000 and r["events_per_s"] > 0 and r["copy_events_per_s"] > 0 and abs(r["ratio"] - r["events_per_s"] / r["copy_events_per_s"]) < 0.01 and r["pg_cpu_us_per_event"] > 0 and r["dispatchd_cpu_us_per_event"] > 0 and abs(r["cpu_us_per_event"] - r["pg_cpu_us_per_event"] - r["dispatchd_cpu_us_per_event"] - r["broker_cpu_us_per_event"]) <= 2 and r["wal_bytes_per_event"] > 1000 and 0 <= r["hot_mark_share"] <= 1')"

suite consume --records 30000
check "consume: exit 0" 0 $rc
check "consume: raw against the bare loop; the held runs are not in the shipped binary" True \
  "$(d 'r = d["consume-raw"]; 0 < r["ratio"] < 3 and r["librdkafka_msgs_per_s"] > 0 and list(d) == ["consume-raw"]')"
msg=$("$bin" bench consume --held-only --config "$work/user.conf" 2>&1 >/dev/null)
check "consume --held-only in the shipped binary: exit 2, the test build named" "2 yes" \
  "$? $(grep -q 'dispatchd-faults' <<<"$msg" && echo yes || echo "$msg")"
if [ -x "$faults" ]; then
  "$faults" bench consume --held-only --records 30000 --ordered-records 5000 --json --config "$work/user.conf" \
    > "$work/out.json" 2> "$work/consume-held.log"
  check "consume --held-only (test build): exit 0" 0 $?
  check "consume: the held run against its ideal, no raw run" True \
    "$(d 'o = d["ordered-concurrency"]; o["records"] == 5000 and 0 < o["ratio"] <= 1.1 and o["ideal_msgs_per_s"] <= 19980 and "consume-raw" not in d')"
  check "consume: backpressure pauses the 3 partitions and leaves most of the backlog in Kafka" True \
    "$(d 'b = d["backpressure"]; b["backlog"] == 30000 and b["partitions_paused"] == 3 and 0 < b["records_taken"] < 30000 and b["peak_rss_mb"] > 0')"
fi

start_fake_llm --latency-ms 50
OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=bench suite classify --llm --llm-records 2000 --rate-records 100
check "classify: exit 0" 0 $rc
check "classify: the local model's rate, no F1 without data" True \
  "$(d 'l = d["local-model"]; l["issues_per_s_per_core"] > 1000 and l["cv_macro_f1"] == "n/a" and l["issues"] == 2000')"
check "classify: llm-concurrency against in-flight / the probed latency" True \
  "$(d 'c = d["llm-concurrency"]; 45 <= c["latency_ms"] <= 150 and c["records"] == 2000 and 1 < c["peak_in_flight"] <= 1000 and 0 < c["ratio"] <= 1.1 and abs(c["ideal_per_s"] - 1000 / (c["latency_ms"] / 1000)) <= 0.01 * c["ideal_per_s"] + 1 and c["full_pipeline_per_s"] > 0')"
check "classify: rate-limit counts the requests made (one per record, none over)" True \
  "$(d 'r = d["rate-limit"]; r["busiest_minute"] == 100 and r["over_limit"] == 0 and r["records"] == 100')"

suite ws --events 300 --clients 20,60
check "ws: exit 0" 0 $rc
check "ws: every client received every event, none closed, one document per client count" True \
  "$(d 'a, b = d["ws-fanout-20"], d["ws-fanout-60"]; a["delivered"] == "6000/6000" and b["delivered"] == "18000/18000" and a["closed"] == 0 == b["closed"] and 0 < a["ratio"] <= 1.05 and a["p50_ms"] <= a["p99_ms"]')"

start_fake_github --repo bench/sync --issues 500 --page-ms 10
GITHUB_API_URL="$gh" suite sync bench/sync
check "sync: exit 0" 0 $rc
check "sync: 500 issues fetched and synced, the resync publishes nothing" True \
  "$(d 's = d["github-sync"]; s["issues"] == 500 and s["resync_published"] == 0 and s["fetch_only_issues_per_s"] > 0 and s["ratio"] > 0')"

curl -s -X POST -d '{"rules": [{"match": "Repository: badfail", "status": 500}], "latency_ms": 5}' \
  "http://127.0.0.1:$fport/script" >/dev/null
OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=bench \
  suite dlq --isolation --keys 200 --versions 3 --replay-records 2000
check "dlq: exit 0" 0 $rc
check "dlq: the failing keys' records entered the retry path (2 keys a run, twice) and their later versions followed" \
  "4 8" "$(d 'r = d["retry-isolation"]; "%d %d" % (r["retry_entered"], r["retry_followed"])')"
check "dlq: the healthy keys' rates and replay's against the bare producer" True \
  "$(d 'r, p = d["retry-isolation"], d["dlq-replay"]; r["baseline_msgs_per_s"] > 0 and r["ratio"] > 0 and p["records"] == 2000 and p["replay_per_s"] > 0 and p["ratio"] > 0')"

check "the scratch databases are dropped" "$scratch0" "$(scratch)"

for bad in "runtime --runs 0" "runtime --only nope" "runtime --peer /nonexistent" "storage --rows x" \
           "consume --records 5" "classify --data /nonexistent.csv" "ws --clients 0" "ws --clients 5,x" \
           "sync nope" "sync" "dlq --keys 3" "storage --colour red" "runtime --compare /nonexistent.json"; do
  msg=$("$bin" bench $bad --config "$work/user.conf" 2>&1 >/dev/null)
  rc=$?
  check "bench $bad: exit 2 with a message" "2 yes" "$rc $([ -n "$msg" ] && echo yes)"
done
# A database that cannot be reached: a clear error, exit 1, nothing left behind.
printf '[database]\nurl = postgresql://postgres@127.0.0.1:1/postgres\n' > "$work/nodb.conf"
msg=$("$bin" bench storage --rows 10 --config "$work/nodb.conf" 2>&1 >/dev/null)
check "bench storage with an unreachable database: exit 1, the database named" "1 yes" \
  "$? $(grep -q 'bench storage: database:' <<<"$msg" && echo yes || echo "$msg")"
for s in runtime consume storage classify ws sync dlq; do
  "$bin" bench "$s" --help | grep -q "^usage: dispatchd bench $s"
  check "bench $s --help: its usage" 0 $?
done
finish
