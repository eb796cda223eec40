#!/usr/bin/env bash
# GET /health/consistency against the real broker and database: `ok` on a
# drained pipeline (lag 0, rows = classifications = issues sent); `lagging`
# while the group is paused with a backlog (its lag from the broker);
# `ok` again once resumed and drained; `inconsistent` (503, with reasons)
# when rows are deleted behind dispatchd's back or a classification is
# removed; dispatchd's own deletes (SET LOCAL dispatchd.deleting) are not
# counted as such.
#   consistency.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=consistency-token
write_config
start_worker w1 DISPATCHD_ADMIN_TOKEN=$T
health() {   # health: sets code and the response
  code=$(curl -s -o "$work/resp" -w '%{http_code}' "http://127.0.0.1:${ports[w1]}/health/consistency")
}
verdict_is() { health; [ "$(field 'd["verdict"]')" = "$1" ]; }
settled() {   # settled ISSUES: ok, with the database and the commits caught up
  verdict_is ok && [ "$(field 'd["totals"]["issues"]')" = "$1" ] &&
    [ "$(field 'all(p["committed_offset"] == p["high_watermark"] for p in d["partitions"])')" = True ]
}
sync_issues 300 c/one
wait_until 60 metric_ge w1 'dispatchd_records_processed_total{result="ok"}' 300
wait_until 20 settled 300
check "drained: ok, 200" "ok 200" "$(field 'd["verdict"]') $code"
check "... totals: lag 0, 300 issues, 300 classifications, none unpublished" "0 300 300 0" \
  "$(field 'd["totals"]["lag"]') $(field 'd["totals"]["issues"]') $(field 'd["totals"]["enriched"]') $(field 'd["totals"]["enriched_unpublished"]')"
check "... per partition: 3, each committed at its end" "3 True" \
  "$(field 'len(d["partitions"])') $(field 'all(p["committed_offset"] == p["high_watermark"] and p["lag"] == 0 for p in d["partitions"])')"
check "... DLQ and retry depths 0" "0 0" "$(field 'd["totals"]["dlq_depth"]') $(field 'd["totals"]["retry_depth"]')"

api w1 POST /admin/pause-processing
wait_until 15 metric_ge w1 dispatchd_partitions_paused 3
sync_issues 200 c/two 1000
wait_until 20 verdict_is lagging
check "paused with a backlog: lagging, 200" "lagging 200" "$(field 'd["verdict"]') $code"
check "... the lag is the backlog, from the broker" 200 "$(field 'd["totals"]["lag"]')"
check "... the reason says why" True "$(field '"paused" in d["reasons"][0]')"
api w1 POST /admin/resume-processing
wait_until 60 settled 500
check "resumed and drained: ok again, 500 issues" "ok 500" "$(field 'd["verdict"]') $(field 'd["totals"]["issues"]')"

psql -q "$dburl" -c "BEGIN; SET LOCAL dispatchd.deleting = 'test'; DELETE FROM dispatchai.issues WHERE issue_number = 1000; COMMIT;"
sleep 6
health
check "dispatchd's own delete is not counted" "ok 0" "$(field 'd["verdict"]') $(sql "SELECT count(*) FROM dispatchai.outside_deletes")"
sql "DELETE FROM dispatchai.issues WHERE id IN (SELECT id FROM dispatchai.issues ORDER BY id LIMIT 5)" >/dev/null
wait_until 20 verdict_is inconsistent
check "rows deleted behind its back: inconsistent, 503" "inconsistent 503" "$(field 'd["verdict"]') $code"
check "... the reason names them (5 issues, their 5 classifications by cascade)" True \
  "$(field 'any("10 rows deleted outside dispatchd" in r for r in d["reasons"])')"
sql "DELETE FROM dispatchai.enriched_issues WHERE issue_id IN (SELECT id FROM dispatchai.issues ORDER BY id LIMIT 3)" >/dev/null
wait_until 20 eval 'health; [ "$(field "any(\"3 issues have no classification\" in r for r in d[\"reasons\"])")" = True ]'
check "a classification removed: named too" True "$(field 'any("3 issues have no classification" in r for r in d["reasons"])')"
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
finish
