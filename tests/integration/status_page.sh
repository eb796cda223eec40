#!/usr/bin/env bash
# The status page at GET / in a real browser (headless Chromium, driven
# through the DevTools protocol by tests/tools/status_page_browser.py) on a
# running pipeline: it shows the partitions and the last DLQ records (no
# title); it goes live on the event stream; after 5,000 events are
# produced its numbers change within 5 s with no poll; with the admin
# token pasted, pausing a partition shows that row paused, pausing the
# group shows it paused within 5 s (and resuming, running); with the
# stream blocked it falls back to polling and still updates;
# no console errors, no CSP violations, no cookie, no horizontal scrolling
# on a phone-sized window; the page's files are under 100 KB with a strict
# Content-Security-Policy. A screenshot goes to the test's output folder.
#   status_page.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
T=page-token
outdir="${TEST_OUTPUT_DIR:-$(dirname "$bin")/test-output}"
mkdir -p "$outdir"
write_config
start_worker w1 DISPATCHD_ADMIN_TOKEN=$T
sync_issues 300 page/one
wait_until 60 metric_ge w1 'dispatchd_records_processed_total' 300
printf 'page/bad:issue:%d\t{"not": "an event", "title": "secret title"}\n' 1 2 3 > "$work/bad.txt"
"$ktool" produce "$bootstrap" "$tag.raw" "$work/bad.txt" >/dev/null
wait_until 30 metric_ge w1 'dispatchd_dlq_records_total{error_class="permanent"}' 3
url="http://127.0.0.1:${ports[w1]}"
headers=$(curl -s -D - -o "$work/page.html" "$url/")
check "GET / is HTML with a strict CSP (self only, nothing inline)" yes \
  "$(grep -qi "content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'" <<<"$headers" && grep -qi 'content-type: text/html' <<<"$headers" && echo yes)"
size=$(( $(wc -c < "$work/page.html") + $(curl -s "$url/static/status.js" | wc -c) + $(curl -s "$url/static/status.css" | wc -c) + $(curl -s "$url/static/favicon.svg" | wc -c) ))
check_le "the page's files, all of them, in bytes" "$size" 102400
check "nothing fetched from elsewhere" 0 "$(grep -c 'http[s]*://' "$work/page.html")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/static/nothing.js")
check "an unknown file: 404" 404 "$code"

"$root/scripts/gen-issues" 5000 --start-number 100000 > "$work/more.jsonl"
out=$(/usr/bin/python3 "$root/tests/tools/status_page_browser.py" "$url/" "$T" "$outdir/status_page.png" -- \
  env KAFKA_BOOTSTRAP_SERVERS="$bootstrap" "$bin" sync page/two --from "$work/more.jsonl" --force \
  --config "$work/dispatchd.conf")
echo "# browser: $out"
get() { python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))' "$out" "$1"; }
check "the page shows the 3 partitions" True "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["partitions_shown_s"] is not None)' "$out")"
check "it goes live (server-sent events from /api/status/stream)" True "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["live_s"] is not None)' "$out")"
check "the last DLQ records shown: the 3 refused, their keys, no title" "3 True" \
  "$(python3 -c 'import json,sys; r=json.loads(sys.argv[1])["dlq_rows"]; print(len(r), all("page/bad:issue:" in x and "secret" not in x for x in r))' "$out")"
changed=$(get changed_after_produce_s)
check "after 5,000 events its numbers changed within 5 s" yes "$(python3 -c "print('yes' if '$changed' != 'None' and float('$changed') <= 5 else 'no ($changed)')")"
check "... pushed: no poll of /api/status while live" 0 "$(get polls_while_live)"
check "admin actions hidden without the token, shown with it" "True True" "$(get admin_hidden_before_token) $(get admin_shown_with_token)"
check "a partition's Pause: that row shows paused (admin) within 5 s, the others not" "yes True" \
  "$(python3 -c "print('yes' if '$(get partition_paused_shown_s)' != 'None' and float('$(get partition_paused_shown_s)') <= 5 else 'no')") $(get others_not_paused)"
check "... its Resume: running again" yes "$([ "$(get partition_resumed_shown_s)" != None ] && echo yes)"
paused=$(get paused_shown_s)
check "pausing the group shows it paused within 5 s" yes "$(python3 -c "print('yes' if '$paused' != 'None' and float('$paused') <= 5 else 'no ($paused)')")"
check "resuming shows it running again" yes "$(python3 -c "print('yes' if '$(get resumed_shown_s)' != 'None' else 'no')")"
check "no console errors, no CSP violations, no cookie" "[] [] []" "$(get console_errors) $(get csp_violations) $(get cookies)"
check "no horizontal scrolling on a phone-sized window" 0 "$(get phone_overflow_px)"
check "with the stream blocked: it polls /api/status, and its numbers still move" "yes yes" \
  "$([ "$(get fallback_polling_s)" != None ] && echo yes) $([ "$(get fallback_updates_s)" != None ] && echo yes)"
check "a screenshot in the test's output folder" yes "$([ -s "$outdir/status_page.png" ] && echo yes)"
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
finish
