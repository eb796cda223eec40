#!/usr/bin/env python3
"""Runs the Savina benchmarks on dispatchd's runtime and on CAF in one run,
same machine, same thread count, interleaved (d, c, d, c, ...) so both see
the same minute of a noisy machine; prints the median of each and the ratio.

  compare.py SAVINA_DISPATCHD SAVINA_CAF [--threads N] [--runs R] [--only NAME]...
"""
import argparse
import os
import statistics
import subprocess

BENCHES = {
    "pingpong": "PingPong, 1,000,000 round trips (2,000,000 messages)",
    "counting": "Counting, 1,000,000 messages to one actor",
    "fjthrput": "ForkJoin throughput, Savina defaults: 60 actors x 10,000 messages",
    "big": "Big, Savina defaults: 120 actors x 20,000 pings (4,800,000 messages)",
}


def run_once(binary, name, threads):
    """Returns (msgs_per_s, peak_rss_mb) of one run; the program reports its
    own peak RSS (a forked child's rusage would count this Python too)."""
    out = subprocess.run([binary, name, str(threads)], check=True, capture_output=True, text=True).stdout
    fields = dict(kv.split("=") for kv in out.split())
    return int(fields["msgs"]) / float(fields["seconds"]), int(fields["rss_kb"]) / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dispatchd")
    ap.add_argument("caf")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", action="append", choices=list(BENCHES), help="run just these")
    args = ap.parse_args()
    args.names = args.only or list(BENCHES)
    print("# Savina on %d threads, %d interleaved runs each, medians" % (args.threads, args.runs))
    for name in args.names:
        print("# %s" % BENCHES[name])
        d_rates, c_rates, d_rss, c_rss = [], [], [], []
        for _ in range(args.runs):
            r, m = run_once(args.dispatchd, name, args.threads)
            d_rates.append(r)
            d_rss.append(m)
            r, m = run_once(args.caf, name, args.threads)
            c_rates.append(r)
            c_rss.append(m)
        d, c = statistics.median(d_rates), statistics.median(c_rates)
        print("BENCH savina-%s dispatchd_msgs_per_s=%.0f caf_msgs_per_s=%.0f ratio=%.2f peak_rss_mb=%.1f "
              "caf_peak_rss_mb=%.1f" % (name, d, c, d / c, max(d_rss), max(c_rss)), flush=True)


if __name__ == "__main__":
    main()
