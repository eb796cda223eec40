#!/usr/bin/env bash
# GET /ws before and after the upgrade, with a real WebSocket client
# (python3-websockets): missing, malformed, badly signed and expired tokens
# get 401 JSON and no upgrade; a foreign Origin 403 (the configured one and
# the server's own are let in); the caps per user (429) and in all (503)
# answer before the upgrade; no permessage-deflate is agreed; a token that
# expires while connected closes its socket with 1008 within a second; a
# client message over 4 KiB is closed with 1009 and a malformed one with
# 1008, neither echoed; a peer that never answers pings is dropped.
#   ws_auth.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
SECRET=ws-auth-secret
T=ws-auth-admin
py=/usr/bin/python3
client="$root/tests/tools/ws_client.py"
write_config "[http]" "ws_allowed_origins = https://dash.example.com, https://other.example.com" \
  "ws_max_clients = 4" "ws_max_clients_per_user = 2" "ws_ping_interval_s = 1"
start_worker w1 DISPATCHD_JWT_SECRET=$SECRET DISPATCHD_ADMIN_TOKEN=$T
base="127.0.0.1:${ports[w1]}"
jwt() { "$root/scripts/lib/jwt.py" "$@"; }
upgrade() {   # upgrade QUERY [HEADER...]: sets code, body in $work/resp
  local q="$1"; shift
  code=$(curl -s -o "$work/resp" -w '%{http_code}' -H "Upgrade: websocket" -H "Connection: Upgrade" \
         -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" -H "Sec-WebSocket-Version: 13" "$@" "http://$base/ws$q")
}
probe() { $py "$client" probe "ws://$base/ws$1" ${2:+--origin "$2"} | cut -d' ' -f1; }

good=$(jwt alice $SECRET 3600 'acme/*')
upgrade ""
check "no token: 401" 401 "$code"
check "no token: a JSON error" unauthorized "$(field 'd["error"]')"
upgrade "?token=garbage"
check "a malformed token: 401" 401 "$code"
upgrade "?token=$(jwt alice wrong-secret 3600)"
check "a token signed with another secret: 401" 401 "$code"
expired=$(jwt alice $SECRET -120)
upgrade "?token=$expired"
check "an expired token: 401" 401 "$code"
check "an expired token: says why" yes "$(grep -qi expired "$work/resp" && echo yes || echo no)"
upgrade "?token=$(jwt alice $SECRET 3600 'not a repo')"
check "a token whose repos claim cannot be read: 401" 401 "$code"
upgrade "?token=$good&repo=nope"
check "a malformed ?repo= filter: 400" 400 "$code"
check "the real client is refused too, without an upgrade" 401 "$(probe "?token=$expired")"
upgrade "?token=$good" -H "Origin: https://evil.example.com"
check "a foreign Origin: 403" 403 "$code"
check "a foreign Origin: a JSON error" forbidden_origin "$(field 'd["error"]')"
check "a configured Origin is let in" 101 "$(probe "?token=$good" https://other.example.com)"
check "the server's own origin is let in" 101 "$(probe "?token=$good" "http://$base")"
check "no Origin (not a browser) is let in" 101 "$(probe "?token=$good")"
check "the admin token is let in" 101 "$(probe "?token=$T")"
check "no permessage-deflate is agreed (the client offers it)" "101 -" \
  "$($py "$client" probe "ws://$base/ws?token=$good")"
if grep -q "$good" "$work/w1.log" || grep -q "$expired" "$work/w1.log"; then leaked=yes; else leaked=no; fi
check "no token appears in the log" no "$leaked"

# Caps: two sockets per user, four in all, answered before the upgrade.
$py "$client" collect "ws://$base/ws?token=$good" --out "$work/cap" --n 2 --seconds 30 \
  --stop-file "$work/cap.stop" > "$work/cap.out" 2>&1 &
wait_until 20 grep -q ready "$work/cap.out"
upgrade "?token=$good"
check "a third socket of the same user: 429" 429 "$code"
bob=$(jwt bob $SECRET 3600)
$py "$client" collect "ws://$base/ws?token=$bob" --out "$work/capb" --n 2 --seconds 30 \
  --stop-file "$work/cap.stop" > "$work/capb.out" 2>&1 &
wait_until 20 grep -q ready "$work/capb.out"
upgrade "?token=$(jwt carol $SECRET 3600)"
check "a fifth socket in all: 503" 503 "$code"
check "four clients connected" 4 "$(metric w1 dispatchd_ws_clients)"
touch "$work/cap.stop"
wait_until 10 metric_le w1 dispatchd_ws_clients 0
check "they leave: no client left" 0 "$(metric w1 dispatchd_ws_clients)"

# A token that expires while connected: closed with 1008 within a second.
exp_s=$(( $(date +%s) + 3 ))
short=$("$root/scripts/lib/jwt.py" alice $SECRET 3)
$py "$client" collect "ws://$base/ws?token=$short" --out "$work/exp" --seconds 20 > "$work/exp.out" 2>&1 &
wait_until 10 grep -q ready "$work/exp.out"
wait_until 15 test -s "$work/exp.0.close"
read -r exp_code exp_ms exp_reason < "$work/exp.0.close"
check "an expiring token's socket is closed with 1008" "1008 token expired" "$exp_code $exp_reason"
late=$(( exp_ms - exp_s * 1000 ))
echo "# closed $late ms after exp"
check "... within a second of exp" yes "$([ $late -ge 0 ] && [ $late -le 1300 ] && echo yes || echo no)"

# Client messages: never echoed; too large: 1009; malformed: 1008.
big=$(head -c 5000 /dev/zero | tr '\0' x)
$py "$client" collect "ws://$base/ws?token=$good" --out "$work/big" --send "$big" --seconds 10 > /dev/null 2>&1
check "a 5,000-byte client message: closed with 1009" 1009 "$(cut -d' ' -f1 "$work/big.0.close")"
check "... and nothing sent back" 0 "$(wc -l < "$work/big.0")"
$py "$client" collect "ws://$base/ws?token=$good" --out "$work/junk" --send 'hello <script>' --seconds 10 \
  > /dev/null 2>&1
check "a malformed client message: closed with 1008" 1008 "$(cut -d' ' -f1 "$work/junk.0.close")"
check "... not echoed" 0 "$(wc -l < "$work/junk.0")"
check "... the reason says what is expected" yes "$(grep -q subscribe "$work/junk.0.close" && echo yes || echo no)"

# A peer that never answers a ping (every second here) is dropped.
dropped=$($py "$client" mute "ws://$base/ws?token=$good" --seconds 15)
echo "# a silent peer was dropped after $dropped s"
check "a peer that does not answer pings is dropped within 3 intervals" yes \
  "$($py -c "print('yes' if 0.5 <= float('$dropped') <= 3.5 else 'no')" 2>/dev/null)"
check "counted as ping_timeout" 1 "$(metric w1 'dispatchd_ws_disconnects_total{reason="ping_timeout"}')"
check "counted as token_expired" 1 "$(metric w1 'dispatchd_ws_disconnects_total{reason="token_expired"}')"
check "client protocol errors counted" 2 "$(metric w1 'dispatchd_ws_disconnects_total{reason="protocol_error"}')"
wait_until 10 metric_le w1 dispatchd_ws_clients 0
check "no client left" 0 "$(metric w1 dispatchd_ws_clients)"
stop_worker w1
check "the worker stops cleanly" 0 "$worker_rc"
finish
