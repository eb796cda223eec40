#!/usr/bin/env python3
"""Asks a Prometheus every query of the Grafana dashboard's panels and
prints the panels whose query returned no series, or `none`.

  dashboard_queries.py DASHBOARD_JSON PROMETHEUS_URL"""
import json
import sys
import urllib.parse
import urllib.request

d = json.load(open(sys.argv[1]))
empty = []
for p in d["panels"]:
    for t in p["targets"]:
        url = sys.argv[2] + "/api/v1/query?" + urllib.parse.urlencode({"query": t["expr"]})
        r = json.load(urllib.request.urlopen(url, timeout=10))
        if r.get("status") != "success" or not r["data"]["result"]:
            empty.append("%s [%s]" % (p["title"], t["legendFormat"]))
print(", ".join(empty) if empty else "none")
