#!/usr/bin/env bash
# Issue versions out of order: an older updated_at never overwrites a newer
# one (neither the issue row nor its classification), the older version
# publishes nothing, and a newer one after it wins. A batch of new issues
# (which goes by COPY) with one row the database refuses is written row
# by row instead: the bad row alone to the DLQ. Also: `run` refuses a
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

# 20 new issues held in one batch (one writer, a long window) go by COPY;
# 20 more with a login too long for its column among them: COPY is tried,
# refused, and the batch goes row by row, the bad row alone to the DLQ.
issues20() {   # issues20 FIRST_ID BAD_INDEX FILE
  python3 - "$@" <<'PY'
import json, sys
first, bad = int(sys.argv[1]), int(sys.argv[2])
with open(sys.argv[3], "w") as f:
    for n in range(20):
        f.write(json.dumps({"id": first + n, "number": first + n, "title": "copy %d" % n, "body": "b",
                            "user": {"login": "x" * 300 if n == bad else "u"},
                            "created_at": "2024-06-01T00:00:00Z", "updated_at": "2024-06-01T00:00:00Z"}) + "\n")
PY
}
printf 'storage_connections = 1\nstorage_batch_window_ms = 3000\nstorage_batch_size = 1000\n' >> "$work/dispatchd.conf"
issues20 6000 -1 "$work/good.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync versions/copy --from "$work/good.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
start_worker w2
done_n() { [ "$(metric w2 dispatchd_records_processed_total)" -ge "$1" ]; }
wait_until 60 done_n 20
check "20 new issues in one batch: by COPY" "20 1" \
  "$(echo "$(metric w2 'dispatchd_records_processed_total{result="ok"}') $(metric w2 dispatchd_db_copy_batches_total)")"
issues20 7000 7 "$work/bad.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync versions/copy --from "$work/bad.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
wait_until 60 done_n 40
check "20 more, one refused: 19 stored, 1 to the DLQ, no second batch by COPY" "39 1 1" \
  "$(echo "$(metric w2 'dispatchd_records_processed_total{result="ok"}') $(metric w2 'dispatchd_records_processed_total{result="dlq"}') $(metric w2 dispatchd_db_copy_batches_total)")"
stop_worker w2
check "the good rows and their classifications are there" "39 39" \
  "$(sql "SELECT (SELECT count(*) FROM dispatchai.issues WHERE repository_name = 'copy') || ' ' || (SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id WHERE i.repository_name = 'copy')")"
"$ktool" dump "$bootstrap" "$tag.dlq" 3000 > "$work/dlq.jsonl"
check "the refused row's DLQ record carries the database's own error" 1 \
  "$(grep -c '"error":"database: ERROR:  value too long for type character varying(255)' "$work/dlq.jsonl")"

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
