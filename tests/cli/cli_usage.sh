#!/usr/bin/env bash
# The command line's contract without any server: exit codes (0 success,
# 2 usage or configuration error) and one-line messages naming the bad key
# or flag.   cli_usage.sh DISPATCHD
set -uo pipefail
bin="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
expect() {   # expect DESCRIPTION CODE PATTERN -- COMMAND...
  local what="$1" code="$2" pattern="$3"; shift 4
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" = "$code" ] && grep -q -- "$pattern" <<<"$out"; then
    passed=$((passed + 1)); echo "ok   - $what"
  else
    failed=$((failed + 1)); echo "FAIL - $what: exit $rc (want $code), output: $(head -c 300 <<<"$out")"
  fi
}
unset KAFKA_BOOTSTRAP_SERVERS DATABASE_URL
expect "--version" 0 "dispatchd [0-9]" -- "$bin" --version
expect "--help lists commands and keys" 0 "DISPATCHD_HTTP_ADDR" -- "$bin" --help
expect "run --help" 0 "usage: dispatchd run" -- "$bin" run --help
expect "no command" 2 "usage:" -- "$bin"
expect "unknown command" 2 "unknown command 'frobnicate'" -- "$bin" frobnicate
printf '[http]\nadress = 1\n' > "$work/bad.conf"
expect "unknown key named" 2 "unknown key 'adress' in section \[http\]" -- "$bin" migrate --config "$work/bad.conf"
printf '[pipeline]\nstorage_batch_window_ms = 0\n' > "$work/window0.conf"
expect "a batch window of 0 refused, saying why" 2 "storage_batch_window_ms must be an integer in \[1, 60000\], not '0': .*every batch one row" -- "$bin" migrate --config "$work/window0.conf"
printf '[pipeline]\nstorage_batch_size = 1\n' > "$work/size1.conf"
expect "one-row batches refused" 2 "storage_batch_size must be an integer in \[2, 100000\], not '1'" -- "$bin" migrate --config "$work/size1.conf"
expect "bad env value named" 2 "DISPATCHD_THREADS" -- env DISPATCHD_THREADS=many "$bin" run
expect "missing config file" 2 "cannot open" -- "$bin" run --config "$work/none.conf"
expect "run: stray argument" 2 "unexpected argument 'extra'" -- "$bin" run extra
expect "topics without ensure" 2 "expected \`ensure\`" -- "$bin" topics
expect "dlq without list or replay" 2 "expected \`list\` or \`replay\`" -- "$bin" dlq
expect "dlq list: a bad time named" 2 "from: not an ISO 8601 time" -- "$bin" dlq list --from yesterday
expect "dlq list: a bad class named" 2 "error_class: permanent or transient" -- "$bin" dlq list --error-class fatal
expect "dlq list: --dry-run is a replay's" 2 "unknown or incomplete option '--dry-run'" -- "$bin" dlq list --dry-run
expect "dlq replay: from after to" 2 "from is after to" -- "$bin" dlq replay --from 2000 --to 1000
expect "dlq --help" 0 "usage: dispatchd dlq list" -- "$bin" dlq --help
expect "sync without OWNER/REPO" 2 "expected OWNER/REPO" -- "$bin" sync --from x
expect "sync with a bad OWNER/REPO" 2 "expected OWNER/REPO" -- "$bin" sync a/b/c --from x
expect "sync of a name GitHub does not allow" 2 "is not a GitHub OWNER/REPO" -- "$bin" sync 'a/b?c'
expect "sync with a missing file" 2 "cannot open --from" -- "$bin" sync a/b --from "$work/none.jsonl"
for i in 1 2 3; do echo "{\"id\":$i,\"number\":$i,\"title\":\"t\"}"; done > "$work/three.jsonl"
expect "large sync asks for --force" 2 '"requires_confirmation":true,"issue_count":3,"estimated_cost_usd":0.03' -- \
  env LARGE_SYNC_THRESHOLD=2 "$bin" sync a/b --from "$work/three.jsonl"
expect "embedded sync needs a running worker" 1 "no running \`dispatchd run\`" -- \
  env DISPATCHD_STATE_DIR="$work/state" "$bin" sync a/b --from "$work/three.jsonl"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
