#!/usr/bin/env bash
# Two processes of one group, each running a sync from the GitHub API with
# the same token at the same time, under a primary limit of 10 requests per
# 2 s and secondary limits: the token's requests still go one at a time
# (the fake never sees two at once), none is sent at remaining 0 or inside a
# retry-after (a wait one process met holds the other too), and both syncs
# complete with exact counts.
#   gh_sync_fleet.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
SECRET=gh-fleet-secret
start_fake_github --repo acme/one --repo acme/two --issues 1000 --prs 100 --page-ms 30 \
  --quota 10 --reset-s 2 --secondary-every 9 --secondary-retry-after 1
write_config "[github]" "api_url = $gh" "[sync]" "large_threshold = 100000"
start_worker w1 DISPATCHD_JWT_SECRET=$SECRET
start_worker w2 DISPATCHD_JWT_SECRET=$SECRET
token=$("$root/scripts/lib/jwt.py" alice "$SECRET")
start() { curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
            "http://127.0.0.1:${ports[$1]}/repos/acme/$2/sync"; }
c1=$(start w1 one) c2=$(start w2 two)
check "both syncs start, one on each process" "202 202" "$c1 $c2"
row() { sql "SELECT $2 FROM dispatchai.repository_syncs WHERE repository_name = '$1'"; }
both_done() { [ "$(row one sync_status)" = completed ] && [ "$(row two sync_status)" = completed ]; }
wait_until 180 both_done
for r in one two; do
  check "acme/$r: completed, exact counts" "completed 1000 1000 1000 1000 100" \
    "$(row $r "sync_status, issues_fetched, issues_published, issues_synced, issues_classified, prs_skipped" | tr '|' ' ')"
done
check "each process ran its own sync" "1 1" \
  "$(grep -c 'of acme/one fetched' "$work/w1.log") $(grep -c 'of acme/two fetched' "$work/w2.log")"
check "the token's requests went one at a time" 1 "$(gh_stats 'd["max_concurrent"]')"
check "no request at remaining 0 or inside a retry-after" 0 "$(gh_stats 'd["violations"]')"
check_le "the limits were met (waits counted)" 1 "$(( $(row one rate_limit_waits) + $(row two rate_limit_waits) ))"
stop_worker w1
check "w1 exits 0" 0 "$worker_rc"
stop_worker w2
check "w2 exits 0" 0 "$worker_rc"
finish
