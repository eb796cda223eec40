# Sourced by the integration tests: a scratch database and unique topics per
# test, dispatchd processes with their control-plane ports, metric reads,
# and the `check` / summary helpers.
#   needs: bin ktool root   set by the caller before sourcing
kport="${DISPATCHD_KAFKA_PORT:-19092}"
pgport="${DISPATCHD_PG_PORT:-15432}"
bootstrap="127.0.0.1:$kport"
tag="it$$r$RANDOM"
work="$(mktemp -d)"
db="dispatchai_$tag"
admin="postgresql://postgres@127.0.0.1:$pgport/postgres"
dburl="postgresql://postgres@127.0.0.1:$pgport/$db"
passed=0 failed=0
declare -A pids ports

check() {   # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok   - $1"
  else failed=$((failed + 1)); echo "FAIL - $1: expected '$2', got '$3'"; fi
}
check_le() {   # check_le DESCRIPTION ACTUAL LIMIT
  if [ "$2" -le "$3" ]; then passed=$((passed + 1)); echo "ok   - $1 ($2 <= $3)"
  else failed=$((failed + 1)); echo "FAIL - $1: $2 > $3"; fi
}
cleanup() {
  for name in "${!pids[@]}"; do kill -9 "${pids[$name]}" 2>/dev/null; done
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" 2>/dev/null
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
finish() {
  if [ "$failed" -gt 0 ]; then
    for log in "$work"/*.log; do echo "--- last lines of $log"; tail -n 30 "$log"; done
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

write_config() {   # write_config [EXTRA_PIPELINE_LINES...]
  {
    # A killed member leaves the group after 6 s (the broker's minimum), not 45.
    printf '[kafka]\nbootstrap.servers = %s\nsession.timeout.ms = 6000\nheartbeat.interval.ms = 1000\n' "$bootstrap"
    printf '[topics]\nraw = %s.raw\nenriched = %s.enriched\ndlq = %s.dlq\ncontrol = %s.control\nretry = %s.retry\n' \
      "$tag" "$tag" "$tag" "$tag" "$tag"
    printf 'allowed = %s.raw,%s.enriched,%s.dlq,%s.control,%s.retry\n' "$tag" "$tag" "$tag" "$tag" "$tag"
    printf '[consumer]\ngroup_id = %s-group\n' "$tag"
    printf '[database]\nurl = %s\n' "$dburl"
    printf '[http]\naddr = 127.0.0.1:0\n'
    # The committed model: the default provider, wherever the test runs.
    printf '[classifier]\nmodel_file = %s/config/model.bin\n' "$root"
    printf '[pipeline]\nstate_dir = %s/state\n' "$work"
    for line in "$@"; do printf '%s\n' "$line"; done
  } > "$work/dispatchd.conf"
  unset KAFKA_BOOTSTRAP_SERVERS DATABASE_URL DISPATCHD_HTTP_ADDR DISPATCHD_GROUP_ID
  psql -q "$admin" -c "CREATE DATABASE $db" || exit 1
  "$bin" migrate --config "$work/dispatchd.conf" >/dev/null || { echo "migrate failed"; exit 1; }
  local created
  created=$("$bin" topics ensure --config "$work/dispatchd.conf" | grep -c ' created$')
  [ "$created" -eq 5 ] || { echo "topics ensure created $created of 5 topics"; exit 1; }
}

start_worker() {   # start_worker NAME [ENV=VALUE...]
  local name="$1"; shift
  local log="$work/$name.log"
  env "$@" "$bin" run --config "$work/dispatchd.conf" 2> "$log" &
  pids[$name]=$!
  local port=""
  for _ in $(seq 1 200); do
    port=$(grep -o 'control plane on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  ports[$name]=$port
}
stop_worker() {   # stop_worker NAME -> sets worker_rc (a worker still there after 90 s fails and is killed)
  local pid="${pids[$1]}" i
  kill -TERM "$pid"
  for i in $(seq 1 900); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL - $1 did not stop within 90 s of SIGTERM"; failed=$((failed + 1))
    kill -9 "$pid"
  fi
  wait "$pid"; worker_rc=$?; unset "pids[$1]"
}
kill_worker() {
  kill -9 "${pids[$1]}"; wait "${pids[$1]}" 2>/dev/null; unset "pids[$1]"
}
start_fake_llm() {   # start_fake_llm [fake_llm.py ARGS...] -> sets fport
  python3 "$root/tests/tools/fake_llm.py" "$@" > "$work/fake.out" 2> "$work/fake.log" &
  pids[fake]=$!
  wait_until 10 grep -q listening "$work/fake.out"
  fport=$(grep -o '[0-9]*$' "$work/fake.out")
}
start_fake_github() {   # start_fake_github [fake_github.py ARGS...] -> sets gh (its URL); gh_stats EXPR reads /stats
  /usr/bin/python3 "$root/tests/tools/fake_github.py" "$@" > "$work/gh.out" 2> "$work/gh.log" &
  pids[gh]=$!
  wait_until 10 grep -q listening "$work/gh.out"
  gh="http://127.0.0.1:$(grep -o '[0-9]*$' "$work/gh.out")"
}
gh_stats() {   # gh_stats PYTHON_EXPR over d, the fake GitHub's /stats
  curl -s "$gh/stats" | python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"
}
fake_requests() { curl -s "http://127.0.0.1:$fport/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }
metric() {   # metric NAME METRIC
  python3 "$root/scripts/lib/metric_value.py" "http://127.0.0.1:${ports[$1]}/metrics" "$2"
}
metric_ge() {   # metric_ge NAME METRIC MIN: a condition for wait_until, read afresh each try
  [ "$(metric "$1" "$2")" -ge "$3" ]
}
metric_le() {   # metric_le NAME METRIC MAX: a condition for wait_until, read afresh each try
  [ "$(metric "$1" "$2")" -le "$3" ]
}
wait_until() {   # wait_until SECONDS COMMAND... (true within the time?)
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.2; done
}
sql() { psql -tA "$dburl" -c "$1"; }
sync_issues() {   # sync_issues COUNT OWNER/REPO [FIRST_NUMBER]
  local f="$work/sync-$RANDOM.jsonl"
  "$root/scripts/gen-issues" "$1" --start-number "${3:-1}" > "$f"
  KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync "$2" --from "$f" --force \
    --config "$work/dispatchd.conf" >/dev/null 2>&1
}
logged_total() {   # logged_total NAME FIELD: a stopped worker's total from its log
  grep -o "totals: .*" "$work/$1.log" | grep -o "$2=[0-9]*" | tail -1 | cut -d= -f2
}

api() {   # api WORKER METHOD PATH [BODY]: admin call with token $T; sets code, body in $work/resp
  local w="$1" m="$2" p="$3" d="${4:-}"
  code=$(curl -s -o "$work/resp" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $T" \
         ${d:+-d "$d"} "http://127.0.0.1:${ports[$w]}$p")
}
field() {   # field PYTHON_EXPR over d, the last api response
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$work/resp" "$1"
}
