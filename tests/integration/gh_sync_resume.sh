#!/usr/bin/env bash
# A sync from the GitHub API whose process is killed (-9) mid-sync resumes
# where its checkpoint stopped and completes with exact counts, whoever
# resumes it:
#  - `dispatchd sync OWNER/REPO` killed, then run again once its lease ran
#    out: it resumes the sync (no worker runs meanwhile; the events wait in
#    Kafka), then a worker stores and classifies them all
#  - a worker running a sync started over HTTP killed, then started again:
#    the new process takes the sync over when the lease runs out
# Either way: every issue stored and classified once, the sync's counts
# exact, and only the pages not checkpointed at the kill fetched and
# published again (at most 4 waiting for Kafka's acknowledgements and the
# request in flight).
#   gh_sync_resume.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
SECRET=gh-resume-secret
start_fake_github --repo acme/one --repo acme/two --issues 2500 --prs 300 --page-ms 60 \
  
pages_of() { gh_stats "d['pages_by_repo']['acme/$1']"; }
# A short lease, so the takeovers come within seconds.
write_config "[github]" "api_url = $gh" "sync_lease_s = 3" "[sync]" "large_threshold = 100000"
row() { sql "SELECT $2 FROM dispatchai.repository_syncs WHERE repository_name = '$1'"; }
lease_over() { [ "$(row "$1" "lease_until < now()")" = t ]; }
exact() {   # exact REPO: the checks of a completed sync
  check "acme/$1: completed, every count exact" "completed 2500 2500 2500 2500 2500 300" \
    "$(row "$1" "sync_status, issues_fetched, issues_published, issues_total, issues_synced, issues_classified,
                 prs_skipped" | tr '|' ' ')"
  check "acme/$1: every issue stored once and classified" "2500 2500 2500" \
    "$(sql "SELECT count(*), count(DISTINCT issue_number), count(e.issue_id) FROM dispatchai.issues i
            LEFT JOIN dispatchai.enriched_issues e ON e.issue_id = i.id WHERE i.repository_name = '$1'" | tr '|' ' ')"
  local id published
  id=$(row "$1" sync_id)
  published=$("$ktool" dump "$bootstrap" "$tag.raw" 3000 | grep -c "\"sync_id\":\"$id\"")
  echo "# acme/$1: $published events published for 2500 issues"
  check "acme/$1: at most the pages not checkpointed published twice" yes \
    "$([ "$published" -ge 2500 ] && [ "$published" -le 3000 ] && echo yes || echo "no ($published)")"
}

# --- the CLI killed, then run again
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync acme/one --config "$work/dispatchd.conf" \
  > "$work/cli1.out" 2> "$work/cli1.err" &
cli=$!
some() { [ "$(pages_of "$1")" -ge 12 ]; }
wait_until 60 some one
kill -9 $cli; wait $cli 2>/dev/null
check "the killed CLI left its sync syncing, still fetching" "syncing t" "$(row one "sync_status, fetching" | tr '|' ' ')"
at_kill=$(row one pages_fetched)
wait_until 30 lease_over one
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync acme/one --config "$work/dispatchd.conf" \
  > "$work/cli2.out" 2> "$work/cli2.err"
check "the CLI run again resumes it and exits 0" 0 "$?"
check "... saying so" 1 "$(grep -c 'resuming sync' "$work/cli2.err")"
# A whole walk is 29 pages (2,800 objects, 99 new a page after the first);
# from the start again after 12 it would be 41 or more.
check_le "... from its checkpoint: the pages after it, and at most the 5 not checkpointed again" \
  "$(pages_of one)" 34
start_worker w1 DISPATCHD_JWT_SECRET=$SECRET
done_one() { [ "$(row one sync_status)" = completed ]; }
wait_until 120 done_one
exact one

# --- the worker killed mid-sync, then started again
token=$("$root/scripts/lib/jwt.py" alice "$SECRET")
code=$(curl -s -o "$work/resp" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
       "http://127.0.0.1:${ports[w1]}/repos/acme/two/sync")
check "a sync started over HTTP" 202 "$code"
wait_until 60 some two
kill_worker w1
check "the killed worker left its sync syncing" syncing "$(row two sync_status)"
start_worker w1 DISPATCHD_JWT_SECRET=$SECRET
done_two() { [ "$(row two sync_status)" = completed ]; }
wait_until 120 done_two
check "the new process took it over" 1 "$(grep -c 'sync .* of acme/two resumed after' "$work/w1.log")"
check_le "... from its checkpoint: the pages after it, and at most the 5 not checkpointed again" "$(pages_of two)" 34
exact two
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
finish
