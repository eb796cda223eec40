#!/usr/bin/env bash
# The openai provider against the fake LLM server (tests/tools/fake_llm.py):
# valid answers stored with provider openai and their cost; an invalid
# answer repaired once; one still invalid after the repair, and a 401, go
# to the DLQ as permanent with the reason (nothing half-valid stored); a
# 429 with Retry-After and two 500s are retried, holding only their record.
# Then the cascade: with a threshold set, the LLM sees only the records the
# local model is unsure of. Then the circuit breaker: opens after 3
# failures, falls back to the local model, half-opens after its open time,
# closes on a success.
#   llm_provider.sh DISPATCHD KTOOL REPO_ROOT
set -uo pipefail
bin="$1" ktool="$2" root="$3"
source "$(dirname "$0")/lib.sh"
start_fake_llm --latency-ms 20 --script '{"rules": [
  {"match": "fixme", "unless": "was not valid", "content": "not json"},
  {"match": "badenum", "content": "bad-enum"},
  {"match": "slowdown", "first": 1, "status": 429, "retry_after": 1},
  {"match": "flaky", "first": 2, "status": 500},
  {"match": "forbidden", "status": 401}]}'
fake() { if [ "$1" = reset ]; then curl -s -X POST "http://127.0.0.1:$fport/reset"; else curl -s "http://127.0.0.1:$fport/$1"; fi; }

write_config
python3 - "$work/issues.jsonl" <<'PY'
import json, sys
titles = ["Please fixme soon", "A badenum answer", "Why slowdown here?", "Crash when flaky", "forbidden words"]
titles += ["Normal issue %d crashes" % i for i in range(50)]
with open(sys.argv[1], "w") as f:
    for n, t in enumerate(titles, 1):
        f.write(json.dumps({"id": 600000 + n, "number": n, "title": t, "body": "body",
                            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}) + "\n")
PY
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync llm/repo --from "$work/issues.jsonl" --config "$work/dispatchd.conf" \
  >/dev/null 2>&1
start_worker w1 CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key
all_done() { [ "$(metric w1 dispatchd_records_processed_total)" -ge 55 ]; }
wait_until 60 all_done
check "records: 53 ok, 2 to the DLQ" "53 2" \
  "$(metric w1 'dispatchd_records_processed_total{result="ok"}') $(metric w1 'dispatchd_records_processed_total{result="dlq"}')"
check "stored rows carry provider openai and a cost" 53 \
  "$(sql "SELECT count(*) FROM dispatchai.enriched_issues WHERE provider = 'openai' AND cost_usd > 0")"
check "only valid categories stored" 0 \
  "$(sql "SELECT count(*) FROM dispatchai.enriched_issues WHERE category NOT IN
          ('bug','feature_request','enhancement','documentation','question','security')")"
check "nothing stored of the invalid and the refused" 0 \
  "$(sql "SELECT count(*) FROM dispatchai.issues WHERE title IN ('A badenum answer', 'forbidden words')")"
check "the repaired answer was stored" 1 "$(sql "SELECT count(*) FROM dispatchai.issues WHERE title = 'Please fixme soon'")"
fake stats > "$work/stats.json"
tcount() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["titles"].get(sys.argv[2], 0))' "$work/stats.json" "$1"; }
check "repair: two requests for the invalid-then-valid answer" 2 "$(tcount 'Please fixme soon')"
check "still invalid after one repair: two requests, no more" 2 "$(tcount 'A badenum answer')"
check "429 retried once" 2 "$(tcount 'Why slowdown here?')"
check "500s retried until it answered" 3 "$(tcount 'Crash when flaky')"
check "401 not retried" 1 "$(tcount 'forbidden words')"
check "metrics count the statuses" "1 2 1" \
  "$(metric w1 'dispatchd_llm_requests_total{code="429"}') $(metric w1 'dispatchd_llm_requests_total{code="500"}') $(metric w1 'dispatchd_llm_requests_total{code="401"}')"
check "money spent is counted" yes "$(python3 -c "print('yes' if $(metric w1 dispatchd_llm_cost_usd_total) > 0 else 'no')")"
"$ktool" dump "$bootstrap" "$tag.dlq" 3000 > "$work/dlq.jsonl"
check "DLQ: still invalid after the repair, permanent" 1 \
  "$(grep '"error":"LLM output invalid after one repair: classification.category' "$work/dlq.jsonl" | grep -c '"error_class":"permanent"')"
check "DLQ: the 401, permanent" 1 "$(grep '"error":"LLM HTTP 401' "$work/dlq.jsonl" | grep -c '"error_class":"permanent"')"
stop_worker w1
check "worker exits 0" 0 "$worker_rc"

# cascade
fake reset >/dev/null
curl -s -X POST -d '{"rules": []}' "http://127.0.0.1:$fport/script" >/dev/null
"$root/scripts/gen-issues" 300 --start-number 1000 > "$work/more.jsonl"
KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync llm/cascade --from "$work/more.jsonl" --force \
  --config "$work/dispatchd.conf" >/dev/null 2>&1
start_worker w2 CLASSIFIER=cascade DISPATCHD_CASCADE_THRESHOLD=0.75 OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" \
  OPENAI_API_KEY=test-key
cascade_done() { [ "$(metric w2 dispatchd_records_processed_total)" -ge 300 ]; }
wait_until 60 cascade_done
asked=$(fake_requests)
local_rows=$(sql "SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id
                  WHERE i.repository_name = 'cascade' AND e.provider = 'local'")
llm_rows=$(sql "SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id
                WHERE i.repository_name = 'cascade' AND e.provider = 'openai'")
echo "# cascade at 0.75: $local_rows answered locally, $llm_rows by the LLM ($asked requests)"
check "both routes taken" yes "$([ "$local_rows" -gt 0 ] && [ "$llm_rows" -gt 0 ] && echo yes || echo no)"
check "every record stored once" 300 $((local_rows + llm_rows))
check "the LLM saw exactly the records the local model was unsure of" "$llm_rows" "$asked"
check "local answers kept only at or above the threshold" 0 \
  "$(sql "SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id
          WHERE i.repository_name = 'cascade' AND e.provider = 'local' AND e.confidence_score < 0.75")"
check "metrics: decisions and calls avoided" "$local_rows $asked $local_rows" \
  "$(metric w2 'dispatchd_cascade_decisions_total{route="local"}') $(metric w2 'dispatchd_cascade_decisions_total{route="llm"}') $(metric w2 dispatchd_llm_calls_avoided_total)"
check "money saved is estimated" yes "$(python3 -c "print('yes' if $(metric w2 dispatchd_llm_cost_saved_usd_total) > 0 else 'no')")"
stop_worker w2
check "cascade worker exits 0" 0 "$worker_rc"

# circuit breaker
fake reset >/dev/null
curl -s -X POST -d '{"rules": [{"status": 500}], "latency_ms": 5}' "http://127.0.0.1:$fport/script" >/dev/null
breaker_issues() {   # breaker_issues REPO FIRST
  python3 - "$work/$1.jsonl" "$2" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for n in range(int(sys.argv[2]), int(sys.argv[2]) + 20):
        f.write(json.dumps({"id": 700000 + n, "number": n, "title": "Breaker issue %d crashes" % n, "body": "b",
                            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}) + "\n")
PY
  KAFKA_BOOTSTRAP_SERVERS=$bootstrap "$bin" sync llm/$1 --from "$work/$1.jsonl" --config "$work/dispatchd.conf" \
    >/dev/null 2>&1
}
breaker_issues breaker1 1
start_worker w3 CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key \
  DISPATCHD_BREAKER_FAILURES=3 DISPATCHD_BREAKER_OPEN_MS=1500 DISPATCHD_LLM_MAX_INFLIGHT=1
twenty() { [ "$(metric w3 dispatchd_records_processed_total)" -ge 20 ]; }
wait_until 60 twenty
check "open: after 3 failures, no more requests" 3 "$(fake_requests)"
check "open: the state metric says so" 2 "$(metric w3 dispatchd_circuit_state)"
check "open: every record classified locally and stored" 20 \
  "$(sql "SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id
          WHERE i.repository_name = 'breaker1' AND e.provider = 'local'")"
check "open: fallbacks counted" 20 "$(metric w3 dispatchd_llm_fallbacks_total)"
curl -s -X POST -d '{"rules": [], "latency_ms": 5}' "http://127.0.0.1:$fport/script" >/dev/null
sleep 1.6
breaker_issues breaker2 100
forty() { [ "$(metric w3 dispatchd_records_processed_total)" -ge 40 ]; }
wait_until 60 forty
check "half-open probe answered: closed again" 0 "$(metric w3 dispatchd_circuit_state)"
check "closed: the LLM classifies again" yes \
  "$([ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id
              WHERE i.repository_name = 'breaker2' AND e.provider = 'openai'")" -ge 1 ] && echo yes || echo no)"
stop_worker w3
check "breaker worker exits 0" 0 "$worker_rc"

# circuit breaker, pause mode: while open, records wait (nothing classified,
# nothing dead-lettered); after the server heals, the probe closes it and
# every record is classified by the LLM.
fake reset >/dev/null
curl -s -X POST -d '{"rules": [{"status": 500}], "latency_ms": 5}' "http://127.0.0.1:$fport/script" >/dev/null
breaker_issues breaker3 200
start_worker w4 CLASSIFIER=openai OPENAI_BASE_URL="http://127.0.0.1:$fport/v1" OPENAI_API_KEY=test-key \
  DISPATCHD_BREAKER_FAILURES=3 DISPATCHD_BREAKER_OPEN_MS=1000 DISPATCHD_LLM_MAX_INFLIGHT=1 \
  DISPATCHD_BREAKER_MODE=pause DISPATCHD_LLM_MAX_RETRIES=20
is_open() { [ "$(metric w4 dispatchd_circuit_state)" = 2 ]; }
wait_until 30 is_open
sleep 3.5
reqs=$(fake_requests)
echo "# pause mode: $reqs requests in ~4.5 s with the breaker open (3, then one probe a second)"
check_le "pause: open, only the half-open probes go out" "$reqs" 9
check "pause: nothing classified while open" 0 \
  "$(sql "SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id
          WHERE i.repository_name = 'breaker3'")"
check "pause: nothing dead-lettered" 0 "$(metric w4 'dispatchd_records_processed_total{result="dlq"}')"
curl -s -X POST -d '{"rules": [], "latency_ms": 5}' "http://127.0.0.1:$fport/script" >/dev/null
healed() { [ "$(sql "SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id
                     WHERE i.repository_name = 'breaker3' AND e.provider = 'openai'")" -ge 20 ]; }
wait_until 60 healed
check "pause: healed, every record classified by the LLM" 20 \
  "$(sql "SELECT count(*) FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id
          WHERE i.repository_name = 'breaker3' AND e.provider = 'openai'")"
check "pause: closed again" 0 "$(metric w4 dispatchd_circuit_state)"
check "pause: no fallback" 0 "$(metric w4 dispatchd_llm_fallbacks_total)"
stop_worker w4
finish
