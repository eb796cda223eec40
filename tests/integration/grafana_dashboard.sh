#!/usr/bin/env bash
# The Grafana dashboard and the alert rules against a live process:
# docker/grafana/dashboards/dispatchd.json parses, names its datasource by
# uid (no __inputs), gives every panel a unit, takes rates of counters and
# histograms only, and uses only metric names a running pipeline exposes;
# Debian's Prometheus, with the project's scrape settings and rules,
# scrapes a running dispatchd and every panel's query returns at least one
# series; `promtool check rules` and `promtool test rules` pass.
#   grafana_dashboard.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
dash="$root/docker/grafana/dashboards/dispatchd.json"

out=$(promtool check rules "$root/docker/prometheus/alerts.yml" 2>&1)
check "promtool check rules" "yes" "$(grep -q SUCCESS <<<"$out" && echo yes || echo "$out")"
out=$(cd "$root/tests/prometheus" && promtool test rules alerts_test.yml 2>&1)
check "promtool test rules (every alert fires and stays quiet when it should)" "yes" \
  "$(grep -q SUCCESS <<<"$out" && echo yes || echo "$out")"
out=$(promtool check config "$root/docker/prometheus/prometheus.yml" 2>&1)
check "promtool check config of the project's scrape config" "yes" "$(grep -q 'SUCCESS' <<<"$out" && echo yes || echo "$out")"

write_config
start_worker w1
sync_issues 2000 graf/ana
wait_until 60 metric_ge w1 'dispatchd_records_processed_total{result="ok"}' 2000
curl -s "http://127.0.0.1:${ports[w1]}/metrics" > "$work/metrics.txt"

lint=$(python3 - "$dash" "$work/metrics.txt" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
families = {}
for line in open(sys.argv[2]):
    m = re.match(r"# TYPE (\S+) (\S+)", line)
    if m:
        families[m.group(1)] = m.group(2)
problems = []
if "__inputs" in d:
    problems.append("__inputs present")
for p in d["panels"]:
    t = p["title"]
    if p.get("datasource", {}).get("uid") != "dispatchd-prometheus":
        problems.append("%s: datasource not by uid" % t)
    if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
        problems.append("%s: no unit" % t)
    for tgt in p["targets"]:
        e = tgt["expr"]
        for name in re.findall(r"\b(dispatchd_[a-z_]+)", e):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if base not in families:
                problems.append("%s: %s not in /metrics" % (t, name))
                continue
            kind = families[base]
            for fn in re.findall(r"\b(rate|increase|irate)\(\s*" + name, e):
                if kind == "gauge":
                    problems.append("%s: %s over the gauge %s" % (t, fn, name))
            if kind == "counter" and not re.search(r"\b(rate|increase|irate)\(\s*" + name, e):
                problems.append("%s: the counter %s outside rate/increase" % (t, name))
        for w in re.findall(r"\[(\d+)([sm])\]", e):
            secs = int(w[0]) * (60 if w[1] == "m" else 1)
            if secs < 20:
                problems.append("%s: window %s%s under 4 scrape intervals" % (t, w[0], w[1]))
print("%d panels; %s" % (len(d["panels"]), "; ".join(problems) if problems else "clean"))
PY
)
check "dashboard lint: 16 panels, datasource by uid, units, rates of counters only, names in /metrics" \
  "16 panels; clean" "$lint"

# Prometheus against the running process: the project's interval and rules,
# this process as its target.
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cp "$root/docker/prometheus/alerts.yml" "$work/alerts.yml"
python3 - "$root/docker/prometheus/prometheus.yml" "$work/prometheus.yml" "127.0.0.1:${ports[w1]}" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
# the compose target (DNS) becomes this process
text = re.sub(r"    dns_sd_configs:\n(      .*\n)+", "    static_configs:\n      - targets: ['%s']\n" % sys.argv[3], text)
open(sys.argv[2], "w").write(text)
PY
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" > "$work/prometheus.log" 2>&1 &
pids[prometheus]=$!
prom() { curl -s --get "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"; }
scraped() { [ "$(prom 'count_over_time(up{job="dispatchd"}[1m])' | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')" -ge 4 ]; }
# traffic while it scrapes, so rates and quantiles have something to say
( for i in 1 2 3; do sync_issues 500 graf/more$i $((100000 * i)); sleep 5; done ) &
traffic=$!
wait_until 60 scraped
wait "$traffic"
sleep 6
check "Prometheus scraped the process (up == 1)" 1 \
  "$(prom 'up{job="dispatchd"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["value"][1])')"
empty=$(python3 "$root/tests/tools/dashboard_queries.py" "$dash" "http://127.0.0.1:$pport")
check "every panel's query returns at least one series" none "$empty"
rules=$(curl -s "http://127.0.0.1:$pport/api/v1/rules" | python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
check "Prometheus loaded the 7 alert rules" 7 "$rules"
stop_worker w1
check "worker exits 0" 0 "$worker_rc"
finish
