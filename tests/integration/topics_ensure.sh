#!/usr/bin/env bash
# `dispatchd topics ensure` on the real broker: creates what is missing
# (lib.sh's write_config checks all five were created), leaves matching
# topics alone, and reports -- never changes -- partition counts and
# retention.ms / cleanup.policy that differ from the configuration.
#   topics_ensure.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config
conf="$work/dispatchd.conf"

out=$("$bin" topics ensure --config "$conf"); rc=$?
check "existing matching topics: exit 0" 0 $rc
check "existing matching topics: five ok" 5 "$(grep -c ' ok (' <<<"$out")"

sed 's/^\[topics\]$/[topics]\npartitions = 5/' "$conf" > "$work/five.conf"
out=$("$bin" topics ensure --config "$work/five.conf"); rc=$?
check "partition mismatch: exit 1" 1 $rc
check "partition mismatch reported for the four partitioned topics" 4 "$(grep -c 'has 3 partitions, configured 5 (left unchanged)' <<<"$out")"

# Point the enriched role at the raw topic: 7 days kept where 30 are wanted.
sed "s/^enriched = .*/enriched = $tag.raw/" "$conf" > "$work/swapped.conf"
out=$("$bin" topics ensure --config "$work/swapped.conf"); rc=$?
check "retention mismatch: exit 1" 1 $rc
check "retention mismatch named" 1 "$(grep -c "$tag.raw has retention.ms=604800000, configured 2592000000" <<<"$out")"

out=$("$bin" topics ensure --config "$conf"); rc=$?
check "nothing was changed by the reports" "0 5" "$rc $(grep -c ' ok (' <<<"$out")"
finish
