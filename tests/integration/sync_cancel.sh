#!/usr/bin/env bash
# A sync of 10,000 events cancelled midway with DELETE /repos/{o}/{r}/sync
# (user JWT): the answer's counts are the table's; no event of the sync is
# classified after the answer; the user's unclassified manual_pull issue of
# the repository is removed, the classified ones kept; the rest of the
# sync's events are skipped; sync-status follows; bad requests get clear
# errors (401, 404, 400 on a second cancel).
#   sync_cancel.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
M=10000
SECRET=sync-test-secret
write_config "max_inflight = 20"
sync_issues $M cancel/repo
sync_id=$(sql "SELECT sync_id FROM dispatchai.repository_syncs WHERE repository_owner = 'cancel'")
check "the sync is registered and published, expecting every event" "syncing $M" \
  "$(sql "SELECT sync_status || ' ' || issues_total FROM dispatchai.repository_syncs WHERE sync_id = '$sync_id'")"

start_worker w1 DISPATCHD_JWT_SECRET=$SECRET DISPATCHD_HOLD_MS=50 DISPATCHD_CLASSIFY_AUDIT_FILE="$work/audit"
token=$("$root/scripts/lib/jwt.py" cli "$SECRET")
call() {   # call METHOD PATH [TOKEN]: sets code, body in $work/resp
  code=$(curl -s -o "$work/resp" -w '%{http_code}' -X "$1" ${3:+-H "Authorization: Bearer $3"} \
         "http://127.0.0.1:${ports[w1]}$2")
}
stored_some() { [ "$(sql "SELECT issues_synced FROM dispatchai.repository_syncs WHERE sync_id = '$sync_id'")" -ge 1000 ]; }
wait_until 120 stored_some
call GET /repos/cancel/repo/sync-status "$token"
check "sync-status answers 200" 200 "$code"
check "sync-status: syncing, with progress" "syncing $M yes" \
  "$(field 'd["sync_status"] + " " + str(d["issues_total"]) + " " + ("yes" if 0 < d["issues_synced"] < d["issues_total"] else "no")')"

# An issue of the sync the original service would have left unclassified.
sql "INSERT INTO dispatchai.issues (github_issue_id, repository_owner, repository_name, issue_number, title,
     sync_source, pulled_by_user_id) VALUES (999000001, 'cancel', 'repo', 999999, 'left over', 'manual_pull', 'cli')" \
  >/dev/null
call DELETE /repos/cancel/repo/sync "$token"
answered_ms=$(date +%s%3N)
check "cancel answers 200" 200 "$code"
check "cancel: success" True "$(field 'd["success"]')"
removed=$(field 'd["issues_removed"]')
kept=$(field 'd["issues_classified"]')
echo "# cancelled: $kept classified issues kept, $removed unclassified removed"
check "the unclassified issue was removed" 1 "$removed"
check "it is gone from the table" 0 "$(sql "SELECT count(*) FROM dispatchai.issues WHERE github_issue_id = 999000001")"

all_done() { [ "$(metric w1 dispatchd_records_processed_total)" -ge $M ]; }
wait_until 180 all_done
idle() { [ "$(metric w1 dispatchd_inflight_records)" -eq 0 ]; }
wait_until 30 idle
ok=$(metric w1 'dispatchd_records_processed_total{result="ok"}')
skipped_unclassified=$(metric w1 dispatchd_cancelled_sync_events_total)
late=$(awk -v id="$sync_id" -v t="$answered_ms" '$4 == id && $3 > t' "$work/audit" | wc -l)
classified=$(awk -v id="$sync_id" '$4 == id' "$work/audit" | wc -l)
echo "# classifications of the sync: $classified, after the answer: $late; skipped without classifying: $skipped_unclassified"
check "no event of the sync classified after the cancel answered" 0 "$late"
check "the events left were skipped without classification" yes \
  "$([ "$skipped_unclassified" -gt 0 ] && [ $((classified + skipped_unclassified)) -eq $M ] && echo yes || echo no)"
check "the classified issues in the table are the ones the answer counted" "$kept" \
  "$(sql "SELECT count(*) FROM dispatchai.issues i JOIN dispatchai.enriched_issues e ON e.issue_id = i.id
          WHERE i.repository_owner = 'cancel' AND i.pulled_by_user_id = 'cli'")"
check "no issue of the sync stored after the cancel" "$kept" \
  "$(sql "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = 'cancel'")"
check "records finished ok: the stored ones" "$kept" "$ok"
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 > "$work/enriched.jsonl"
check "enriched events: the stored ones" "{\"count\":$kept}" "$(tail -1 "$work/enriched.jsonl")"

call GET /repos/cancel/repo/sync-status "$token"
check "sync-status: cancelled, counts as at the cancel" "cancelled $kept $kept" \
  "$(field 'd["sync_status"] + " " + str(d["issues_synced"]) + " " + str(d["issues_classified"])')"
call DELETE /repos/cancel/repo/sync "$token"
check "a second cancel is refused with 400" 400 "$code"
check "...saying why" 1 "$(grep -c 'the sync is cancelled' "$work/resp")"
call DELETE /repos/cancel/other/sync "$token"
check "no sync of that repository: 404" 404 "$code"
call DELETE /repos/cancel/repo/sync
check "no token: 401" 401 "$code"
call DELETE /repos/cancel/repo/sync "$("$root/scripts/lib/jwt.py" cli wrong-secret)"
check "a token signed with another secret: 401" 401 "$code"
call GET /repos/cancel/repo/sync-status "$("$root/scripts/lib/jwt.py" someone-else "$SECRET")"
check "another user's view: 404" 404 "$code"
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
finish
