# Sourced by the benchmarks that run dispatchd on the real broker: starts
# Kafka and PostgreSQL (scripts/kafka, scripts/postgres), makes a scratch
# database and topics named after the run, writes $work/bench.conf, and
# starts and stops workers. Everything is removed on exit. (The suites
# that `dispatchd bench` runs itself need only bench_servers.)
#   bench_setup TAG [CONF LINES...]   the lines go after the common sections
#   bench_start NAME [ENV=VALUE...]   a worker (group $tag-NAME unless the
#                                     environment says otherwise); sets pid,
#                                     port, url (its /metrics)
#   bench_stop                        SIGTERM to the last one started, waits
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$root/build/dispatchd"
faults_bin="$root/build/dispatchd-faults"   # for a held or stalled classifier (faults.h)
ktool="$root/build/tests/ktool"
kport="${DISPATCHD_KAFKA_PORT:-19092}"
pgport="${DISPATCHD_PG_PORT:-15432}"
bootstrap="127.0.0.1:$kport"
admin="postgresql://postgres@127.0.0.1:$pgport/postgres"
work="$(mktemp -d)"
pid=""
pids=()   # more processes to kill on exit (a fake server, ...)

bench_cleanup() {
  for p in $pid "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${tag:-}" ] && { psql -q "$admin" -c "DROP DATABASE IF EXISTS $tag" 2>/dev/null || true; }
  rm -rf "$work"
}
trap bench_cleanup EXIT

bench_setup() {
  tag="$1"; shift
  dburl="postgresql://postgres@127.0.0.1:$pgport/$tag"
  scripts/kafka start >/dev/null
  scripts/postgres start >/dev/null
  psql -q "$admin" -c "CREATE DATABASE $tag"
  {
    printf '[kafka]\nbootstrap.servers = %s\n' "$bootstrap"
    printf '[topics]\nraw = %s.raw\nenriched = %s.enriched\ndlq = %s.dlq\ncontrol = %s.control\nretry = %s.retry\n' \
      "$tag" "$tag" "$tag" "$tag" "$tag"
    printf 'allowed = %s.raw,%s.enriched,%s.dlq,%s.control,%s.retry\n' "$tag" "$tag" "$tag" "$tag" "$tag"
    printf '[database]\nurl = %s\n[http]\naddr = 127.0.0.1:0\n' "$dburl"
    for line in "$@"; do printf '%s\n' "$line"; done
    printf '[pipeline]\nstate_dir = %s/state\n' "$work"
  } > "$work/bench.conf"
  unset KAFKA_BOOTSTRAP_SERVERS DATABASE_URL DISPATCHD_HTTP_ADDR CLASSIFIER
  "$bin" migrate --config "$work/bench.conf" >/dev/null
  "$bin" topics ensure --config "$work/bench.conf" >/dev/null
}

bench_start() {
  local name="$1"; shift
  env DISPATCHD_GROUP_ID="$tag-$name" "$@" "$bin" run --config "$work/bench.conf" 2> "$work/$name.log" &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -o 'control plane on http://127.0.0.1:[0-9]*' "$work/$name.log" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  url="http://127.0.0.1:$port/metrics"
}

bench_stop() { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=""; }

# bench_servers: the project's broker and database started, and named in
# the environment for `dispatchd bench SUITE` (which makes its scratch
# namespace on them).
bench_servers() {
  scripts/kafka start >/dev/null
  scripts/postgres start >/dev/null
  export KAFKA_BOOTSTRAP_SERVERS="$bootstrap" DATABASE_URL="$admin" DISPATCHD_LOG="${DISPATCHD_LOG:-warn}"
}

# field JSON NAME: one top-level field of a JSON object
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
