#!/usr/bin/env python3
"""Prints the sum of every sample of one metric family from a /metrics URL
(0 if the endpoint is unreachable or the metric absent).
Usage: metric_value.py URL NAME"""
import sys
import urllib.request

try:
    text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
except OSError:
    print(0)
    sys.exit(0)
name = sys.argv[2]
total = 0.0
for line in text.splitlines():
    if line.startswith(name + " ") or line.startswith(name + "{"):
        total += float(line.rsplit(" ", 1)[1])
print(int(total) if total == int(total) else total)
