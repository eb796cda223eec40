#!/usr/bin/env bash
# make bench-sync: a sync from the GitHub API on the real broker, against
# the fake GitHub with BENCH_SYNC_PAGE_MS (50) per page and BENCH_SYNC_N
# (20,000) issues. The sync's issues/s -- fetched, published, stored and
# classified by the local model, from the command's start until the sync
# is `completed` -- against fetching alone (fetch_only.py: the same walk,
# keeping nothing), in one run: ratio = sync / fetch-only (target >= 0.9:
# the pipeline keeps up with the fetch). Then a resync of the unchanged
# repository (target: under 5 s).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
N="${BENCH_SYNC_N:-20000}"
PAGE_MS="${BENCH_SYNC_PAGE_MS:-50}"
/usr/bin/python3 tests/tools/fake_github.py --repo bench/sync --issues "$N" --page-ms "$PAGE_MS" \
  > "$work/gh.out" 2> "$work/gh.log" &
pids+=("$!")
for _ in $(seq 1 100); do grep -q listening "$work/gh.out" && break; sleep 0.1; done
gh="http://127.0.0.1:$(grep -o '[0-9]*$' "$work/gh.out")"
bench_setup "benchsync$$" "[github]" "api_url = $gh"

fetch=$(/usr/bin/python3 bench/sync/fetch_only.py "$gh" bench/sync)
bench_start sync
row() { psql -tA "$dburl" -c "SELECT $1 FROM dispatchai.repository_syncs WHERE repository_name = 'sync'"; }
sync_once() {   # the command, then until the workers stored and classified every event; prints seconds
  local t0 t1
  t0=$(date +%s.%N)
  KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync bench/sync --force --config "$work/bench.conf" \
    > "$work/sync.out" 2> "$work/sync.err" || { cat "$work/sync.err" >&2; exit 1; }
  until [ "$(row sync_status)" = completed ]; do sleep 0.05; done
  t1=$(date +%s.%N)
  python3 -c "print(float('$t1') - float('$t0'))"
}
secs=$(sync_once)
fetched=$(row issues_fetched) pages=$(row pages_fetched) stored=$(row issues_synced)
[ "$fetched" -eq "$N" ] && [ "$stored" -eq "$N" ] || { echo "sync: fetched $fetched, stored $stored of $N" >&2; exit 1; }
resync=$(sync_once)
republished=$(row issues_published)
bench_stop
python3 - "$fetch" "$N" "$secs" "$pages" "$resync" "$republished" <<'PY'
import json, sys
f = json.loads(sys.argv[1])
n, secs, pages, resync, republished = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
fetch_only = f["issues"] / f["seconds"]
i = n / secs
print("BENCH github-sync issues=%d pages_per_s=%.1f issues_per_s=%.0f fetch_only_issues_per_s=%.0f ratio=%.3f "
      "resync_unchanged_s=%.2f resync_published=%d" % (n, pages / secs, i, fetch_only, i / fetch_only, resync, republished))
PY
