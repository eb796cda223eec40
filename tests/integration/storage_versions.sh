#!/usr/bin/env bash
# Issue versions out of order: an older updated_at never overwrites a newer
# one (neither the issue row nor its classification), the older version
# publishes nothing, and a newer one after it wins. Also: `run` refuses a
# database whose schema is older than it needs, naming the command to run.
#   storage_versions.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
write_config
version() {   # version UPDATED_AT TITLE
  printf '{"id": 4242, "number": 42, "title": "%s", "body": "b", "user": {"login": "u"}, ' "$2"
  printf '"created_at": "2024-01-01T00:00:00Z", "updated_at": "%s"}\n' "$1"
}
{ version 2024-05-02T00:00:00Z newer; version 2024-05-01T00:00:00Z older; } > "$work/v12.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync versions/repo --from "$work/v12.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
start_worker w1
two_done() { [ "$(metric w1 dispatchd_records_processed_total)" -ge 2 ]; }
wait_until 60 two_done
check "the newer version's title stays" newer "$(sql "SELECT title FROM dispatchai.issues WHERE github_issue_id = 4242")"
check "the newer version's updated_at stays" "2024-05-02 00:00:00+00" \
  "$(sql "SELECT updated_at AT TIME ZONE 'UTC' || '+00' FROM dispatchai.issues WHERE github_issue_id = 4242")"
check "the classification is of the newer version" "2024-05-02 00:00:00+00" \
  "$(sql "SELECT e.source_updated_at AT TIME ZONE 'UTC' || '+00' FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id WHERE i.github_issue_id = 4242")"
check "results: the older version skipped" "1 1" \
  "$(echo "$(metric w1 'dispatchd_records_processed_total{result="ok"}') $(metric w1 'dispatchd_records_processed_total{result="skipped"}')")"

version 2024-05-03T00:00:00Z newest > "$work/v3.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync versions/repo --from "$work/v3.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
three_done() { [ "$(metric w1 dispatchd_records_processed_total)" -ge 3 ]; }
wait_until 60 three_done
stop_worker w1
check "a newer version after them wins" newest "$(sql "SELECT title FROM dispatchai.issues WHERE github_issue_id = 4242")"
check "one issue row, one classification" "1 1" \
  "$(sql "SELECT (SELECT count(*) FROM dispatchai.issues) || ' ' || (SELECT count(*) FROM dispatchai.enriched_issues)")"
"$ktool" dump "$bootstrap" "$tag.enriched" 3000 > "$work/enriched.jsonl"
check "enriched events: the newer and the newest version only" '{"count":2}' "$(tail -1 "$work/enriched.jsonl")"
check "no enriched event of the older version" 0 "$(grep -c '"title":"older"' "$work/enriched.jsonl")"

psql -q "$admin" -c "CREATE DATABASE ${db}_old"
psql -q "postgresql://postgres@127.0.0.1:$pgport/${db}_old" \
  -c "CREATE SCHEMA dispatchai" \
  -c "CREATE TABLE dispatchai.schema_migrations (version int PRIMARY KEY, name text, applied_at timestamptz)" \
  -c "INSERT INTO dispatchai.schema_migrations VALUES (1, 'v1', now())"
DATABASE_URL="postgresql://postgres@127.0.0.1:$pgport/${db}_old" "$bin" run --config "$work/dispatchd.conf" \
  2> "$work/old.log" &
old_pid=$!
wait_until 30 bash -c "! kill -0 $old_pid 2>/dev/null"
wait "$old_pid"; old_rc=$?
check "run on an older schema exits non-zero" yes "$([ "$old_rc" -ne 0 ] && echo yes || echo no)"
check "...naming the command to run" 1 "$(grep -c 'schema is at version 1, this dispatchd needs [0-9]*: run .dispatchd migrate.' "$work/old.log")"
psql -q "$admin" -c "DROP DATABASE ${db}_old"
finish
