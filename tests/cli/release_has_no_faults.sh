#!/usr/bin/env bash
# The shipped binary carries no fault injection: neither the hooks' code
# (symbols) nor the [faults] settings' names (strings). The test binary
# has both, which shows the check can fail.
#   release_has_no_faults.sh DISPATCHD DISPATCHD_FAULTS
set -euo pipefail
release="$1" faulty="$2"
pattern='fault_|faults_init|DISPATCHD_HOLD_MS|DISPATCHD_STALL_FILE|DISPATCHD_FAULT_KILL_AFTER_COMMITS|DISPATCHD_CLASSIFY_AUDIT_FILE|kill_after_commits|stall_file|classify_audit_file'
fail=0
stripped="$(mktemp)"
trap 'rm -f "$stripped"' EXIT
check() {   # check NAME BINARY EXPECT(0 none, 1 some)
  local syms strs
  syms=$( { nm "$2" 2>/dev/null || true; } | grep -cE " [TtDdBb] ($pattern)" || true)
  # The strings a binary carries, not its debug information (which names
  # every struct field, the [faults] ones included).
  objcopy --strip-debug "$2" "$stripped"
  strs=$(strings "$stripped" | grep -cE "$pattern" || true)
  echo "$1: $syms fault symbols, $strs fault strings"
  if [ "$3" = 0 ] && [ $((syms + strs)) -ne 0 ]; then
    { nm "$2" | grep -E " [TtDdBb] ($pattern)" || true; strings "$stripped" | grep -E "$pattern" || true; } | head -20
    echo "FAIL: $1 has fault injection"; fail=1
  fi
  if [ "$3" = 1 ] && { [ "$syms" -eq 0 ] || [ "$strs" -eq 0 ]; }; then
    echo "FAIL: $1 should have fault injection (is the check looking at the right names?)"; fail=1
  fi
}
check dispatchd "$release" 0
check dispatchd-faults "$faulty" 1
exit $fail
