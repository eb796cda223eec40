#!/usr/bin/env bash
# Who sees what on /ws: 1,000 events over three repositories (acme/api with
# a second version of 100 of its issues, acme/web, tools/cli), watched by
# users whose tokens claim different repositories, one narrowing further
# with ?repo=, one with no claim who runs a sync herself, and the admin.
# Each receives exactly the events of the repositories it may see, every
# issue's versions in order, seq without a gap; sync_* messages reach only
# the sync's user and the admin.
#   ws_authz.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
SECRET=ws-authz-secret
T=ws-authz-admin
py=/usr/bin/python3
client="$root/tests/tools/ws_client.py"
write_config
start_worker w1 DISPATCHD_JWT_SECRET=$SECRET DISPATCHD_ADMIN_TOKEN=$T
base="ws://127.0.0.1:${ports[w1]}/ws"
jwt() { "$root/scripts/lib/jwt.py" "$@"; }
watch() {   # watch NAME QUERY: one client in the background
  $py "$client" collect "$base$2" --out "$work/$1" --seconds 170 --stop-file "$work/stop" > "$work/$1.out" 2>&1 &
  pids[$1]=$!
}
watch alice "?token=$(jwt alice $SECRET 3600 acme/api)"
watch bob "?token=$(jwt bob $SECRET 3600 'acme/*')"
watch bobweb "?token=$(jwt bob $SECRET 3600 'acme/*')&repo=acme/web"
watch carol "?token=$(jwt carol $SECRET 3600)"
watch admin "?token=$T"
for c in alice bob bobweb carol admin; do wait_until 20 grep -q ready "$work/$c.out"; done

publish() {   # publish OWNER/REPO USER FILE
  KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync "$1" --from "$3" --force --user "$2" \
    --config "$work/dispatchd.conf" >/dev/null 2>&1
}
"$root/scripts/gen-issues" 300 > "$work/api.jsonl"
"$root/scripts/gen-issues" 300 --start-number 1001 > "$work/web.jsonl"
"$root/scripts/gen-issues" 300 --start-number 2001 > "$work/cli.jsonl"
# A second version of issues 1-100 of acme/api: edited a year later.
head -100 "$work/api.jsonl" | $py -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line); d["updated_at"] = d["updated_at"].replace("2024", "2025", 1); d["title"] += " (v2)"
    print(json.dumps(d))' > "$work/api2.jsonl"
publish acme/api ops "$work/api.jsonl"
publish acme/web ops "$work/web.jsonl"
publish tools/cli carol "$work/cli.jsonl"
api_done() { [ "$(sql "SELECT sync_status FROM dispatchai.repository_syncs WHERE repository_name = 'api'")" = completed ]; }
wait_until 120 api_done
publish acme/api ops "$work/api2.jsonl"
events() { cat "$work/admin.0" 2>/dev/null | grep -c '"classification_update"'; }
completed() { cat "$work/admin.0" 2>/dev/null | grep -c '"sync_completed"'; }
all_seen() { [ "$(events)" -ge 1000 ] && [ "$(completed)" -ge 4 ]; }
wait_until 150 all_seen
sleep 2   # anything late or extra would arrive now
touch "$work/stop"
for c in alice bob bobweb carol admin; do wait "${pids[$c]}"; unset "pids[$c]"; done

summary() {   # summary NAME: "api web cli syncs_of_others own_sync_msgs gapless ordered"
  $py - "$work/$1.0" "$2" <<'EOF'
import json, sys
repos = {"acme/api": 0, "acme/web": 0, "tools/cli": 0}
sync_msgs, own, seqs, versions, ordered = 0, 0, [], {}, True
for line in open(sys.argv[1]):
    m = json.loads(line)["msg"]
    seqs.append(m["seq"])
    d = m["data"]
    if m["type"].startswith("sync_"):
        sync_msgs += 1
        own += d["user_id"] == sys.argv[2]
        continue
    repos[d["repository"]] += 1
    key = (d["repository"], d["issue_number"])
    if key in versions and versions[key] > d["updated_at"]:
        ordered = False
    versions[key] = d["updated_at"]
gapless = seqs == list(range(1, len(seqs) + 1))
print(repos["acme/api"], repos["acme/web"], repos["tools/cli"], sync_msgs - own, "own" if own else "none",
      "gapless" if gapless else "gap", "ordered" if ordered else "out-of-order")
EOF
}
echo "# admin: $(summary admin -)"
check "alice (acme/api) gets acme/api's 400 events, nothing else, no one's sync" \
  "400 0 0 0 none gapless ordered" "$(summary alice alice)"
check "bob (acme/*) gets acme's 700 events, not alice's or carol's syncs" "400 300 0 0 none gapless ordered" \
  "$(summary bob bob)"
check "bob narrowed to ?repo=acme/web gets its 300" "0 300 0 0 none gapless ordered" "$(summary bobweb bob)"
check "carol (no claim) gets the 300 events of her own sync and its sync messages" \
  "0 0 300 0 own gapless ordered" "$(summary carol carol)"
admin_summary=$(summary admin -)
check "the admin gets all 1,000 events and every sync's messages" "400 300 300 yes gapless ordered" \
  "$(echo "$admin_summary" | awk '{print $1, $2, $3, ($4 >= 8 ? "yes" : "no"), $6, $7}')"
check "carol's sync completed message reached her" 1 "$(grep -c '"sync_completed"' "$work/carol.0")"
check "alice saw the second versions after the first (v2 titles)" 100 "$(grep -c '(v2)' "$work/alice.0")"
stop_worker w1
check "the worker stops cleanly" 0 "$worker_rc"
finish
