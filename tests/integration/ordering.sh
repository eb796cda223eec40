#!/usr/bin/env bash
# Ordering against the real broker, with random per-record delays and 100
# records in flight per partition: in `key` mode each key's events come out
# in offset order while different keys overtake each other (so they did run
# concurrently); in `partition` mode a partition's events come out strictly
# in offset order.
#   ordering.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config "max_inflight = 100"
KEYS=60 VERSIONS=15
# Each key's versions in order, keys interleaved at random; seq = the
# record's place in the topic's production order, version = per key.
gen() {   # gen MODE ID_BASE FILE
python3 - "$3" $KEYS $VERSIONS "$1" "$2" <<'PY'
import json, random, sys
path, keys, versions, mode, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rng = random.Random(7)
queue = [k for k in range(1, keys + 1) for _ in range(versions)]
rng.shuffle(queue)
next_version = {k: 0 for k in range(1, keys + 1)}
with open(path, "w") as f:
    for seq, k in enumerate(queue):
        v = next_version[k]
        next_version[k] += 1
        ev = {"event_type": "issue", "action": "edited", "seq": seq, "version": v,
              "repository": {"id": 1, "name": mode, "full_name": "order/" + mode},
              "issue": {"id": base + k, "number": k, "title": "ordering %d" % k, "user": {"login": "o"},
                        "created_at": "2024-01-01T00:00:00Z",
                        "updated_at": "2024-01-01T%02d:%02d:00Z" % (v // 60, v % 60)}}
        f.write("order/%s:issue:%d\t%s\n" % (mode, k, json.dumps(ev)))
PY
}
total=$((KEYS * VERSIONS))

verify() {   # verify FILE -> "keys_ok partition_ordered"
  python3 - "$1" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1]) if '"key"' in l]
by_key, by_part = collections.defaultdict(list), collections.defaultdict(list)
for r in sorted(rows, key=lambda r: (r["partition"], r["offset"])):
    by_key[r["key"]].append(r["version"])
    by_part[r["partition"]].append(r["seq"])
keys_ok = all(v == sorted(v) and len(set(v)) == len(v) for v in by_key.values())
ordered = all(s == sorted(s) for s in by_part.values())
print("%s %s %d" % ("keys_ok" if keys_ok else "keys_broken", "ordered" if ordered else "overtaken", len(rows)))
PY
}

for mode in key partition; do
  base=5000000; [ $mode = partition ] && base=6000000
  gen $mode $base "$work/events-$mode.txt"
  "$ktool" produce "$bootstrap" "$tag.raw" "$work/events-$mode.txt" >/dev/null
  start_worker $mode DISPATCHD_ORDERING=$mode DISPATCHD_GROUP_ID="$tag-$mode" \
    DISPATCHD_HOLD_MS=1 DISPATCHD_HOLD_JITTER_MS=40
  done_all() { [ "$(metric $mode dispatchd_records_processed_total)" -ge "$1" ]; }
  # the key run sees its own records; the partition run (a new group) both
  want=$total; [ $mode = partition ] && want=$((2 * total))
  wait_until 180 done_all $want
  stop_worker $mode
  "$ktool" dump "$bootstrap" "$tag.enriched" 3000 seq,version,repository > "$work/enriched.jsonl"
  grep "\"full_name\":\"order/$mode\"" "$work/enriched.jsonl" > "$work/enriched-$mode.jsonl"
  result=$(verify "$work/enriched-$mode.jsonl")
  if [ $mode = key ]; then
    check "key mode: each key in offset order, keys overtaking each other" "keys_ok overtaken $total" "$result"
  else
    check "partition mode: every partition strictly in offset order" "keys_ok ordered $total" "$result"
  fi
done
finish
