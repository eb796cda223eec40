#!/usr/bin/env bash
# Syncs from the GitHub API started over HTTP, against the scripted fake
# GitHub (a primary limit of 10 requests per 2 s, a secondary limit with
# retry-after, 502s, an issue edited while the sync pages through):
#  - confirmation above LARGE_SYNC_THRESHOLD: the exact count and cost,
#    nothing written or fetched; with ?force=true the sync runs; 409 while
#    it runs
#  - 2,500 issues and 300 pull requests: every issue stored and classified
#    in its last version, no pull request, the edited issue in its edited
#    version; no request sent at remaining 0 or inside a retry-after; the
#    status showed the waits; /ws got sync_progress and sync_completed
#  - a resync of the unchanged repository fetches at most a page and
#    publishes nothing (the next one gets a 304); after 10 edits, exactly
#    those 10
#  - a cancel stops the fetch within a page; counts true
#  - bad requests answered clearly; the token never logged nor stored
#   gh_sync.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
SECRET=gh-sync-secret
GH_TOKEN=ghp_test_token_never_logged_7Q
start_fake_github --repo acme/api --repo acme/big --repo acme/cli --issues 2500 --prs 300 --page-ms 20 \
  --quota 10 --reset-s 2 --secondary-every 13 --secondary-retry-after 1 --fail-every 17 --edit-after-page 5 \
  --token "$GH_TOKEN"

write_config "[github]" "api_url = $gh" "[sync]" "large_threshold = 1000"
start_worker w1 DISPATCHD_JWT_SECRET=$SECRET GITHUB_TOKEN=$GH_TOKEN
token=$("$root/scripts/lib/jwt.py" alice "$SECRET")
base="http://127.0.0.1:${ports[w1]}"
call() {   # call METHOD PATH [TOKEN]: sets code, body in $work/resp
  code=$(curl -s -o "$work/resp" -w '%{http_code}' -X "$1" ${3:+-H "Authorization: Bearer $3"} "$base$2")
}
# A live dashboard of alice's syncs.
$py "$root/tests/tools/ws_client.py" collect "ws://127.0.0.1:${ports[w1]}/ws?token=$token" --out "$work/ws" \
  --seconds 300 --stop-file "$work/ws_stop" > "$work/ws.ready" 2>&1 &
pids[ws]=$!
wait_until 10 grep -q ready "$work/ws.ready"

# --- confirmation
call POST /repos/acme/api/sync "$token"
check "above the threshold without force: 200 asking for confirmation" 200 "$code"
check "... with the exact count and cost" "True 2500 25.0" \
  "$(field 'str(d["requires_confirmation"]) + " " + str(d["issue_count"]) + " " + str(d["estimated_cost_usd"])')"
check "... and a message" yes "$(field '"yes" if "LARGE_SYNC_THRESHOLD" in d["message"] else "no"')"
check "... leaving no sync row" 0 "$(sql "SELECT count(*) FROM dispatchai.repository_syncs")"
check "... and fetching no page" 0 "$(gh_stats 'd["pages"]')"

# --- the sync
call POST '/repos/acme/api/sync?force=true' "$token"
check "with ?force=true: 202" 202 "$code"
check "... pending, with its id" pending "$(field 'd["status"]')"
sync_id=$(field 'd["sync_id"]')
call POST '/repos/acme/api/sync?force=true' "$token"
check "a second start while it runs: 409" 409 "$code"
saw_wait=no status=""
until_done() {   # until_done REPO: polls sync-status until the fetch ended (notes a wait seen)
  local deadline=$((SECONDS + 180))
  while [ $SECONDS -lt $deadline ]; do
    call GET "/repos/$1/sync-status" "$token"
    if [ "$code" = 200 ]; then
      [ "$(field 'd["waiting_until"] is not None and d["waiting_reason"] is not None')" = True ] && saw_wait=yes
      status=$(field 'd["sync_status"]')
      case "$status" in completed|failed|cancelled) return 0 ;; esac
    fi
    sleep 0.1
  done
  return 1
}
until_done acme/api
check "the sync completed" completed "$status"
check "its row: fetched, published, total, stored, classified, PRs skipped" "2501 2501 2501 2501 2501 300" \
  "$(field '" ".join(str(d[k]) for k in ["issues_fetched", "issues_published", "issues_total", "issues_synced", "issues_classified", "prs_skipped"])')"
check "the status showed the rate-limit waits while they lasted" yes "$saw_wait"
check_le "rate-limit waits were counted" 1 "$(field 'd["rate_limit_waits"]')"
check "no request at remaining 0 or inside a retry-after" 0 "$(gh_stats 'd["violations"]')"
check "every issue stored once, none a pull request" "2500 2500 0" \
  "$(sql "SELECT count(*), count(DISTINCT issue_number), count(*) FILTER (WHERE title LIKE 'Fix the build%')
          FROM dispatchai.issues WHERE repository_owner = 'acme' AND repository_name = 'api'" | tr '|' ' ')"
check "every issue classified in its stored version" 2500 \
  "$(sql "SELECT count(*) FROM dispatchai.issues i JOIN dispatchai.enriched_issues e ON e.issue_id = i.id
          WHERE i.repository_name = 'api' AND e.source_updated_at = i.updated_at")"
edited=$(gh_stats 'd["edited"][0]')
check "the issue edited mid-sync is stored in its edited version" "1 manual_pull alice" \
  "$(sql "SELECT count(*), min(sync_source), min(pulled_by_user_id) FROM dispatchai.issues
          WHERE repository_name = 'api' AND issue_number = $edited AND title LIKE '%(edited)'" | tr '|' ' ')"

# --- the same through the command line, under the same limits
violations_before=$(gh_stats 'd["violations"]')
KAFKA_BOOTSTRAP_SERVERS=$bootstrap GITHUB_TOKEN=$GH_TOKEN "$bin" sync acme/cli --user bob \
  --config "$work/dispatchd.conf" < /dev/null > "$work/cli.out" 2> "$work/cli.log"
check "dispatchd sync without --force above the threshold: the confirmation, exit 2" "2 2500" \
  "$? $($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["issue_count"])' "$work/cli.out")"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap GITHUB_TOKEN=$GH_TOKEN "$bin" sync acme/cli --user bob --force \
  --config "$work/dispatchd.conf" < /dev/null > "$work/cli.out" 2> "$work/cli.log"
check "dispatchd sync --force: exit 0 once every page is in Kafka" 0 "$?"
check "... printing the sync's row" "github 2500 300" \
  "$($py -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["source"], d["issues_published"], d["prs_skipped"])' "$work/cli.out")"
check "... with progress lines" yes "$(grep -q '^sync: \[' "$work/cli.log" && echo yes || echo no)"
cli_done() { [ "$(sql "SELECT sync_status FROM dispatchai.repository_syncs WHERE repository_name = 'cli'")" = completed ]; }
wait_until 120 cli_done
check "the command's sync: every issue stored once, none a pull request, bob's" "2500 0 bob" \
  "$(sql "SELECT count(DISTINCT issue_number), count(*) FILTER (WHERE title LIKE 'Fix the build%'),
          min(pulled_by_user_id) FROM dispatchai.issues WHERE repository_name = 'cli'" | tr '|' ' ')"
check "... and no request at remaining 0 or inside a retry-after" "$violations_before" "$(gh_stats 'd["violations"]')"

# --- resyncs
raw_before=$("$ktool" dump "$bootstrap" "$tag.raw" 3000 | tail -1)
pages_before=$(gh_stats 'd["pages"]')
call POST '/repos/acme/api/sync?force=true' "$token"
check "a resync starts: 202" 202 "$code"
until_done acme/api
check "the unchanged resync completed, publishing nothing" "completed 0 0" \
  "$(field 'd["sync_status"] + " " + str(d["issues_published"]) + " " + str(d["issues_total"])')"
check_le "... fetching at most 2 pages" "$(( $(gh_stats 'd["pages"]') - pages_before ))" 2
check "... and nothing reached Kafka" "$raw_before" "$("$ktool" dump "$bootstrap" "$tag.raw" 3000 | tail -1)"
nm_before=$(gh_stats 'd["not_modified"]') pages_before=$(gh_stats 'd["pages"]')
call POST '/repos/acme/api/sync?force=true' "$token"
until_done acme/api
check "the next unchanged resync is answered 304 (no page, no quota)" "1 0 completed" \
  "$(( $(gh_stats 'd["not_modified"]') - nm_before )) $(( $(gh_stats 'd["pages"]') - pages_before )) $status"
curl -s -X POST "$gh/edit?count=10" > /dev/null
call POST '/repos/acme/api/sync?force=true' "$token"
until_done acme/api
check "a resync after 10 edits publishes exactly those 10" "completed 10 10" \
  "$(field 'd["sync_status"] + " " + str(d["issues_published"]) + " " + str(d["issues_synced"])')"
check "... and they are stored edited" 11 \
  "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_name = 'api' AND title LIKE '%(edited)'")"

# --- /ws saw the syncs
touch "$work/ws_stop"
wait "${pids[ws]}"; unset "pids[ws]"
ws_count() {   # ws_count TYPE CONDITION-ON-data: messages of alice's socket
  $py -c 'import json,sys
n = 0
for l in open(sys.argv[1]):
    m = json.loads(l)["msg"]
    d = m["data"]
    if m["type"] == sys.argv[2] and d.get("sync_id") == sys.argv[3] and eval(sys.argv[4]):
        n += 1
print(n)' "$work/ws.0" "$1" "$sync_id" "$2"
}
check "/ws: sync_progress with the fetch's counts, coalesced (fewer than one a page)" yes \
  "$(n=$(ws_count sync_progress 'd["issues_fetched"] > 0'); [ "$n" -ge 1 ] && [ "$n" -lt 29 ] && echo yes || echo "no ($n)")"
check "/ws: one sync_completed of the first sync, with its counts" 1 \
  "$(ws_count sync_completed 'd["status"] == "completed" and d["issues_synced"] == 2501')"

# --- cancel
call POST '/repos/acme/big/sync?force=true' "$token"
check "a sync of another repository starts" 202 "$code"
big_pages() { gh_stats 'd["pages_by_repo"]["acme/big"]'; }
some_pages() { [ "$(big_pages)" -ge 3 ]; }
wait_until 60 some_pages
call DELETE /repos/acme/big/sync "$token"
check "cancel: 200" 200 "$code"
kept=$(field 'd["issues_classified"]')
at_cancel=$(big_pages)
sleep 4
check_le "fetching stopped within a page of the cancel" "$(( $(big_pages) - at_cancel ))" 1
call GET /repos/acme/big/sync-status "$token"
check "sync-status: cancelled" cancelled "$(field 'd["sync_status"]')"
idle() { [ "$(metric w1 dispatchd_inflight_records)" -eq 0 ]; }
wait_until 30 idle
check "the classified issues kept are the ones the cancel counted" "$kept" \
  "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_name = 'big'")"

# --- what the metrics say
check "metrics: GitHub's answers by status (403 limits, 502s, 304s)" yes \
  "$(metric_ge w1 'dispatchd_github_requests_total{code="403"}' 1 && metric_ge w1 'dispatchd_github_requests_total{code="502"}' 1 \
     && metric_ge w1 'dispatchd_github_requests_total{code="304"}' 1 && echo yes || echo no)"
check "metrics: the issues published (2,501, 10 edits, some of the cancelled sync's)" yes \
  "$(metric_ge w1 dispatchd_github_issues_published_total 2511 && echo yes || echo no)"
check "metrics: time held by GitHub's limits" yes \
  "$($py -c 'import sys; print("yes" if float(sys.argv[1]) >= 1 else "no")' "$(metric w1 dispatchd_github_wait_seconds_total)")"
check "metrics: no sync running here any more" 0 "$(metric w1 dispatchd_github_syncs)"

# --- bad requests
call POST '/repos/acme/nope/sync?force=true' "$token"
check "a repository GitHub does not know: 404" 404 "$code"
call POST '/repos/acme/a%20b/sync' "$token"
check "a name GitHub does not allow: 400" 400 "$code"
call POST '/repos/acme/api/sync?force=maybe' "$token"
check "force neither true nor false: 400" 400 "$code"
call POST /repos/acme/api/sync
check "no token: 401" 401 "$code"

stop_worker w1
check "worker exits 0" 0 "$worker_rc"
check "the GitHub token is in no log" 0 "$(cat "$work"/*.log | grep -c "$GH_TOKEN")"
check "... and in no table" 0 \
  "$(pg_dump -a "$dburl" 2>/dev/null | grep -c "$GH_TOKEN")"
finish
