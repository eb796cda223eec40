#!/usr/bin/env python3
"""The demo's closing report, from PostgreSQL and /metrics.

  demo_summary.py DATABASE_URL METRICS_URL EVENTS SECONDS"""
import subprocess
import sys
import urllib.request


def psql(url, sql):
    out = subprocess.run(["psql", url, "-tAF", "\t", "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def main():
    url, metrics_url, events, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    metrics = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    results = {}
    for line in metrics.splitlines():
        if line.startswith("dispatchd_records_processed_total{"):
            label = line.split('"')[1]
            results[label] = int(float(line.rsplit(" ", 1)[1]))
    issues = psql(url, "SELECT count(*) FROM dispatchai.issues")[0][0]
    enriched = psql(url, "SELECT count(*) FROM dispatchai.enriched_issues")[0][0]
    print("\n== dispatchd demo summary ==")
    print("events in: %d   processed: %s" % (events, ", ".join("%s=%d" % kv for kv in sorted(results.items()))))
    print("issues stored: %s   classified: %s" % (issues, enriched))
    print("\nby category:")
    for cat, n in psql(url, "SELECT category, count(*) FROM dispatchai.enriched_issues GROUP BY 1 ORDER BY 2 DESC"):
        print("  %-16s %6s" % (cat, n))
    print("by priority:")
    for pri, n in psql(url, "SELECT priority, count(*) FROM dispatchai.enriched_issues GROUP BY 1 "
                            "ORDER BY array_position(ARRAY['critical','high','medium','low'], priority)"):
        print("  %-16s %6s" % (pri, n))
    lat = psql(url, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), percentile_cont(0.99) WITHIN GROUP "
                    "(ORDER BY d) FROM (SELECT extract(epoch FROM e.processed_at - (i.raw_data->>'timestamp')"
                    "::timestamptz) AS d FROM dispatchai.enriched_issues e JOIN dispatchai.issues i "
                    "ON i.id = e.issue_id) t")[0]
    print("\nthroughput: %.0f events/s (%d events in %.2f s, from first publish to last commit-ready)"
          % (events / seconds, events, seconds))
    print("end-to-end latency (event timestamp -> stored): p50 %.1f ms, p99 %.1f ms"
          % (float(lat[0] or 0) * 1000, float(lat[1] or 0) * 1000))


if __name__ == "__main__":
    main()
