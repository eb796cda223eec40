#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

metrics_t g_metrics = {.budget_remaining = -1};

/* Upper bounds in microseconds: 0.5 ms .. 60 s. */
static const uint64_t BOUNDS_US[HIST_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

/* Upper bounds for counts (rows per batch): 1 .. 32768. */
static const uint64_t BOUNDS_COUNT[HIST_BUCKETS] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768,
};

static void observe(histogram_t *h, uint64_t v, const uint64_t *bounds)
{
    int i = 0;
    while (i < HIST_BUCKETS && v > bounds[i])
        i++;
    __atomic_fetch_add(&h->counts[i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->count, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_us, v, __ATOMIC_RELAXED);
}

void histogram_observe_us(histogram_t *h, uint64_t us)
{
    observe(h, us, BOUNDS_US);
}

void histogram_observe_count(histogram_t *h, uint64_t n)
{
    observe(h, n, BOUNDS_COUNT);
}

void histogram_observe_local(histogram_t *h, uint64_t us)
{
    int i = 0;
    while (i < HIST_BUCKETS && us > BOUNDS_US[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum_us += us;
}

void histogram_merge(histogram_t *into, histogram_t *local)
{
    for (int i = 0; i <= HIST_BUCKETS; i++)
        if (local->counts[i])
            __atomic_fetch_add(&into->counts[i], local->counts[i], __ATOMIC_RELAXED);
    __atomic_fetch_add(&into->count, local->count, __ATOMIC_RELAXED);
    __atomic_fetch_add(&into->sum_us, local->sum_us, __ATOMIC_RELAXED);
    memset(local, 0, sizeof(*local));
}

void histogram_read(const histogram_t *h, histogram_t *out)
{
    for (int i = 0; i <= HIST_BUCKETS; i++)
        out->counts[i] = __atomic_load_n(&h->counts[i], __ATOMIC_RELAXED);
    out->count = __atomic_load_n(&h->count, __ATOMIC_RELAXED);
    out->sum_us = __atomic_load_n(&h->sum_us, __ATOMIC_RELAXED);
}

double histogram_quantile_since(const histogram_t *now, const histogram_t *before, double q)
{
    uint64_t delta[HIST_BUCKETS + 1], total = 0;
    for (int i = 0; i <= HIST_BUCKETS; i++) {
        delta[i] = now->counts[i] >= before->counts[i] ? now->counts[i] - before->counts[i] : 0;
        total += delta[i];
    }
    if (total == 0)
        return -1;
    double rank = q * (double)total, seen = 0;
    for (int i = 0; i <= HIST_BUCKETS; i++) {
        if (seen + (double)delta[i] >= rank && delta[i] > 0) {
            if (i == HIST_BUCKETS)
                return (double)BOUNDS_US[HIST_BUCKETS - 1] / 1e6;   /* past the last bound: its value */
            double lo = i == 0 ? 0 : (double)BOUNDS_US[i - 1], hi = (double)BOUNDS_US[i];
            return (lo + (hi - lo) * (rank - seen) / (double)delta[i]) / 1e6;
        }
        seen += (double)delta[i];
    }
    return (double)BOUNDS_US[HIST_BUCKETS - 1] / 1e6;
}

const char *record_result_name(enum record_result r)
{
    static const char *n[] = {"ok", "retry", "dlq", "skipped"};
    return n[r];
}

const char *retry_outcome_name(enum retry_outcome o)
{
    static const char *n[] = {"entered", "followed", "failed_again", "done", "dead_lettered"};
    return o < RETRY_OUTCOME_COUNT ? n[o] : "unknown";
}

const char *provider_name(enum provider p)
{
    static const char *n[] = {"rules", "local", "openai"};
    return n[p];
}

static const char *const CODE_NAMES[CODE_COUNT] = {
    "200", "304", "400", "401", "403", "404", "408", "429", "500", "502", "503", "504", "other", "timeout", "transport"};

enum reply_code reply_code_of(long status, int timed_out)
{
    if (status == 0)
        return timed_out ? CODE_TIMEOUT : CODE_TRANSPORT;
    static const long known[] = {200, 304, 400, 401, 403, 404, 408, 429, 500, 502, 503, 504};
    for (int i = 0; i < (int)(sizeof(known) / sizeof(known[0])); i++)
        if (known[i] == status)
            return (enum reply_code)i;
    return CODE_OTHER;
}

#define MAX_HOOKS 16
#define MAX_HTTP_SERIES 128

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { metrics_hook_fn fn; void *ctx; } hooks[MAX_HOOKS];
static int nhooks;
/* path points at a route template, a string constant: kept, never copied
 * or cut (a cut copy once never matched again and made a series per request). */
static struct { const char *path; int status; uint64_t n; } http_series[MAX_HTTP_SERIES];
static uint64_t http_unlabelled;   /* requests past the series cap */
static int nhttp;

void metrics_add_hook(metrics_hook_fn fn, void *ctx)
{
    pthread_mutex_lock(&lock);
    if (nhooks < MAX_HOOKS) {
        hooks[nhooks].fn = fn;
        hooks[nhooks].ctx = ctx;
        nhooks++;
    }
    pthread_mutex_unlock(&lock);
}

void metrics_clear_hooks(void)
{
    pthread_mutex_lock(&lock);
    nhooks = 0;
    pthread_mutex_unlock(&lock);
}

/* path_label is a route template ("/repos/{owner}/{repo}/sync"), never a
 * raw path, so the series stay few. */
void metrics_http_request(const char *path_label, int status)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nhttp; i++) {
        if (http_series[i].status == status && strcmp(http_series[i].path, path_label) == 0) {
            http_series[i].n++;
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    if (nhttp < MAX_HTTP_SERIES) {
        http_series[nhttp].path = path_label;
        http_series[nhttp].status = status;
        http_series[nhttp].n = 1;
        nhttp++;
    } else {
        http_unlabelled++;
    }
    pthread_mutex_unlock(&lock);
}

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static int64_t lds(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

static void render_buckets(strbuf_t *out, const char *name, const char *labels, const histogram_t *h,
                           const uint64_t *bounds, double scale)
{
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i < HIST_BUCKETS; i++) {
        cum += ld(&h->counts[i]);
        sb_printf(out, "%s_bucket{%s%sle=\"%g\"} %lu\n", name, labels, sep, (double)bounds[i] * scale,
                  (unsigned long)cum);
    }
    cum += ld(&h->counts[HIST_BUCKETS]);
    sb_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %lu\n", name, labels, sep, (unsigned long)cum);
    sb_printf(out, "%s_sum{%s} %.6f\n", name, labels, (double)ld(&h->sum_us) * scale);
    sb_printf(out, "%s_count{%s} %lu\n", name, labels, (unsigned long)ld(&h->count));
}

static void render_histogram(strbuf_t *out, const char *name, const char *labels, const histogram_t *h)
{
    render_buckets(out, name, labels, h, BOUNDS_US, 1e-6);
}

static const char *const WS_TYPES[WS_TYPE_COUNT] = {"issue_update", "classification_update", "sync_progress",
                                                    "sync_completed", "sync_cancelled"};
static const char *const WS_REASONS[WS_CLOSE_REASON_COUNT] = {"client", "slow_consumer", "token_expired",
                                                              "ping_timeout", "shutdown", "protocol_error"};

const char *ws_type_name(enum ws_type t)
{
    return t < WS_TYPE_COUNT ? WS_TYPES[t] : "other";
}

enum ws_type ws_type_of(const char *name)
{
    for (int t = 0; t < WS_TYPE_COUNT; t++)
        if (strcmp(name, WS_TYPES[t]) == 0)
            return (enum ws_type)t;
    return WS_TYPE_COUNT;
}

const char *ws_close_reason_name(enum ws_close_reason r)
{
    return r < WS_CLOSE_REASON_COUNT ? WS_REASONS[r] : "other";
}

static void family(strbuf_t *out, const char *name, const char *type, const char *help)
{
    sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A counter family by HTTP status: 200 always, the others once seen. */
static void by_code(strbuf_t *out, const char *name, const char *help, const uint64_t *counts)
{
    family(out, name, "counter", help);
    for (int c = 0; c < CODE_COUNT; c++)
        if (c == CODE_200 || ld(&counts[c]) > 0)
            sb_printf(out, "%s{code=\"%s\"} %lu\n", name, CODE_NAMES[c], (unsigned long)ld(&counts[c]));
}

void metrics_render(strbuf_t *out)
{
    metrics_t *m = &g_metrics;
    family(out, "dispatchd_records_processed_total", "counter", "Records finished, by result.");
    for (int r = 0; r < RESULT_COUNT; r++)
        sb_printf(out, "dispatchd_records_processed_total{result=\"%s\"} %lu\n", record_result_name(r),
                  (unsigned long)ld(&m->records[r]));
    family(out, "dispatchd_inflight_records", "gauge", "Records taken from Kafka and not yet finished.");
    sb_printf(out, "dispatchd_inflight_records %ld\n", (long)lds(&m->inflight));
    family(out, "dispatchd_partitions_paused", "gauge", "Assigned partitions currently paused.");
    sb_printf(out, "dispatchd_partitions_paused %ld\n", (long)lds(&m->partitions_paused));
    family(out, "dispatchd_partitions_assigned", "gauge", "Partitions this process owns.");
    sb_printf(out, "dispatchd_partitions_assigned %ld\n", (long)lds(&m->partitions_assigned));
    family(out, "dispatchd_offset_map_skips_total", "counter",
           "Records skipped because the commit metadata says they finished before.");
    sb_printf(out, "dispatchd_offset_map_skips_total %lu\n", (unsigned long)ld(&m->offset_map_skips));
    family(out, "dispatchd_applied_replays_total", "counter",
           "Records read again whose rows the database already had: not classified or written again.");
    sb_printf(out, "dispatchd_applied_replays_total %lu\n", (unsigned long)ld(&m->applied_replays));
    family(out, "dispatchd_cancelled_sync_events_total", "counter",
           "Events of cancelled syncs skipped without classification.");
    sb_printf(out, "dispatchd_cancelled_sync_events_total %lu\n", (unsigned long)ld(&m->cancelled_skips));
    family(out, "dispatchd_rebalances_total", "counter", "Partition assignment changes.");
    sb_printf(out, "dispatchd_rebalances_total %lu\n", (unsigned long)ld(&m->rebalances));

    family(out, "dispatchd_classify_duration_seconds", "histogram", "Time to classify one record.");
    for (int p = 0; p < PROVIDER_COUNT; p++) {
        char labels[48];
        snprintf(labels, sizeof(labels), "provider=\"%s\"", provider_name(p));
        render_histogram(out, "dispatchd_classify_duration_seconds", labels, &m->classify[p]);
    }
    family(out, "dispatchd_db_write_duration_seconds", "histogram", "One database batch transaction.");
    render_histogram(out, "dispatchd_db_write_duration_seconds", "", &m->db_write);
    family(out, "dispatchd_end_to_end_latency_seconds", "histogram",
           "From the record's Kafka timestamp to its enriched event acknowledged.");
    render_histogram(out, "dispatchd_end_to_end_latency_seconds", "", &m->end_to_end);
    family(out, "dispatchd_db_batch_rows", "histogram", "Rows per database batch transaction.");
    render_buckets(out, "dispatchd_db_batch_rows", "", &m->db_batch_rows, BOUNDS_COUNT, 1);
    family(out, "dispatchd_db_rows_dead_lettered_total", "counter",
           "Rows the database refused for good, sent to the DLQ with its error.");
    sb_printf(out, "dispatchd_db_rows_dead_lettered_total %lu\n", (unsigned long)ld(&m->db_dead_lettered));
    family(out, "dispatchd_db_rows_written_total", "counter", "Issue rows written.");
    sb_printf(out, "dispatchd_db_rows_written_total %lu\n", (unsigned long)ld(&m->db_rows));
    family(out, "dispatchd_db_batches_total", "counter", "Database batch transactions committed.");
    sb_printf(out, "dispatchd_db_batches_total %lu\n", (unsigned long)ld(&m->db_batches));
    family(out, "dispatchd_db_copy_batches_total", "counter",
           "Of those, batches of new issues written by COPY rather than by statements.");
    sb_printf(out, "dispatchd_db_copy_batches_total %lu\n", (unsigned long)ld(&m->db_copy_batches));
    family(out, "dispatchd_db_reconnects_total", "counter", "Database reconnections.");
    sb_printf(out, "dispatchd_db_reconnects_total %lu\n", (unsigned long)ld(&m->db_reconnects));
    by_code(out, "dispatchd_llm_requests_total", "LLM requests by HTTP status (timeout, transport: none).",
            m->llm_requests);
    by_code(out, "dispatchd_github_requests_total", "GitHub API requests by HTTP status (timeout, transport: none).",
            m->github_requests);
    family(out, "dispatchd_github_pages_total", "counter", "Pages of issues GitHub answered (304s included).");
    sb_printf(out, "dispatchd_github_pages_total %lu\n", (unsigned long)ld(&m->github_pages));
    family(out, "dispatchd_github_issues_published_total", "counter",
           "Issue versions a sync from GitHub published to the input topic.");
    sb_printf(out, "dispatchd_github_issues_published_total %lu\n", (unsigned long)ld(&m->github_issues_published));
    family(out, "dispatchd_github_wait_seconds_total", "counter",
           "Time GitHub's rate limits or errors held this process's requests.");
    sb_printf(out, "dispatchd_github_wait_seconds_total %.3f\n", (double)ld(&m->github_wait_ms) / 1000.0);
    family(out, "dispatchd_github_syncs", "gauge", "Syncs from GitHub this process runs.");
    sb_printf(out, "dispatchd_github_syncs %ld\n", (long)lds(&m->github_syncs));
    family(out, "dispatchd_retry_records_total", "counter",
           "Records in the retry path: entered (failed past the in-process retries), followed (an earlier record of "
           "their key was there), failed_again, done (stored or skipped), dead_lettered (attempts or age spent).");
    for (int o = 0; o < RETRY_OUTCOME_COUNT; o++)
        sb_printf(out, "dispatchd_retry_records_total{outcome=\"%s\"} %lu\n", retry_outcome_name(o),
                  (unsigned long)ld(&m->retry_records[o]));
    family(out, "dispatchd_retry_queue_depth", "gauge",
           "Records in this process's retry partitions not done yet (high watermark less committed offset).");
    sb_printf(out, "dispatchd_retry_queue_depth %ld\n", (long)lds(&m->retry_queue_depth));
    family(out, "dispatchd_parked_keys", "gauge",
           "Keys with records in the retry path: their later records follow them there, in order.");
    sb_printf(out, "dispatchd_parked_keys %ld\n", (long)lds(&m->parked_keys));
    family(out, "dispatchd_dlq_records_total", "counter", "Records the DLQ acknowledged, by error class.");
    sb_printf(out, "dispatchd_dlq_records_total{error_class=\"permanent\"} %lu\n", (unsigned long)ld(&m->dlq_records[0]));
    sb_printf(out, "dispatchd_dlq_records_total{error_class=\"transient\"} %lu\n", (unsigned long)ld(&m->dlq_records[1]));
    family(out, "dispatchd_dlq_replayed_total", "counter", "DLQ records re-published to the input topic.");
    sb_printf(out, "dispatchd_dlq_replayed_total %lu\n", (unsigned long)ld(&m->dlq_replayed));
    family(out, "dispatchd_circuit_state", "gauge", "The LLM circuit breaker: 0 closed, 1 half-open, 2 open.");
    sb_printf(out, "dispatchd_circuit_state %ld\n", (long)lds(&m->circuit_state));
    family(out, "dispatchd_llm_fallbacks_total", "counter",
           "Records classified locally because the LLM circuit breaker was open.");
    sb_printf(out, "dispatchd_llm_fallbacks_total %lu\n", (unsigned long)ld(&m->llm_fallbacks));
    family(out, "dispatchd_budget_fallbacks_total", "counter",
           "Records classified locally because today's LLM budget was spent (budget_mode = fallback).");
    sb_printf(out, "dispatchd_budget_fallbacks_total %lu\n", (unsigned long)ld(&m->budget_fallbacks));
    family(out, "dispatchd_llm_known_version_skips_total", "counter",
           "LLM calls not made because the issue version (or a newer one) was classified before: replays after "
           "an offset reset, duplicate deliveries.");
    sb_printf(out, "dispatchd_llm_known_version_skips_total %lu\n", (unsigned long)ld(&m->llm_known_skips));
    family(out, "dispatchd_budget_remaining", "gauge",
           "LLM classifications left in the group's daily budget (UTC day), as last seen by this process; "
           "-1 before it has asked.");
    sb_printf(out, "dispatchd_budget_remaining %ld\n", (long)lds(&m->budget_remaining));
    family(out, "dispatchd_budget_daily_limit", "gauge",
           "The group's LLM classifications allowed per UTC day (DAILY_CLASSIFICATION_LIMIT, reloaded by SIGHUP).");
    sb_printf(out, "dispatchd_budget_daily_limit %ld\n", (long)lds(&m->budget_daily_limit));
    family(out, "dispatchd_budget_waiting_records", "gauge", "LLM-bound records held because a budget is spent.");
    sb_printf(out, "dispatchd_budget_waiting_records %ld\n", (long)lds(&m->budget_waiting));
    family(out, "dispatchd_llm_window", "gauge",
           "LLM requests this process lets be in flight now: max_inflight, halved by each 429, regrown by one "
           "per answered window.");
    sb_printf(out, "dispatchd_llm_window %ld\n", (long)lds(&m->llm_window));
    family(out, "dispatchd_llm_inflight_requests", "gauge", "LLM requests this process has in flight now.");
    sb_printf(out, "dispatchd_llm_inflight_requests %ld\n", (long)lds(&m->llm_inflight));
    family(out, "dispatchd_llm_tokens_total", "counter", "LLM tokens used (prompt and completion).");
    sb_printf(out, "dispatchd_llm_tokens_total %lu\n", (unsigned long)ld(&m->llm_tokens));
    family(out, "dispatchd_cascade_decisions_total", "counter",
           "cascade: records the local model answered, and records sent to the LLM.");
    sb_printf(out, "dispatchd_cascade_decisions_total{route=\"local\"} %lu\n", (unsigned long)ld(&m->cascade_local));
    sb_printf(out, "dispatchd_cascade_decisions_total{route=\"llm\"} %lu\n", (unsigned long)ld(&m->cascade_llm));
    /* Saved: the calls avoided at what an LLM classification has cost on
     * average here so far. */
    uint64_t calls = ld(&m->llm_calls), local = ld(&m->cascade_local);
    double avg = calls ? (double)ld(&m->llm_cost_nano_usd) / 1e9 / (double)calls : 0;
    family(out, "dispatchd_llm_calls_avoided_total", "counter", "cascade: LLM calls the local model made unnecessary.");
    sb_printf(out, "dispatchd_llm_calls_avoided_total %lu\n", (unsigned long)local);
    family(out, "dispatchd_llm_cost_saved_usd_total", "counter",
           "cascade: calls avoided times the average cost of an LLM classification so far.");
    sb_printf(out, "dispatchd_llm_cost_saved_usd_total %.9f\n", avg * (double)local);
    family(out, "dispatchd_llm_cost_usd_total", "counter", "Money spent on LLM calls.");
    sb_printf(out, "dispatchd_llm_cost_usd_total %.9f\n", (double)ld(&m->llm_cost_nano_usd) / 1e9);
    family(out, "dispatchd_produced_total", "counter", "Events acknowledged by Kafka (enriched and DLQ).");
    sb_printf(out, "dispatchd_produced_total %lu\n", (unsigned long)ld(&m->produced));
    family(out, "dispatchd_produce_errors_total", "counter", "Produce attempts that failed.");
    sb_printf(out, "dispatchd_produce_errors_total %lu\n", (unsigned long)ld(&m->produce_errors));
    family(out, "dispatchd_ws_clients", "gauge", "Connected WebSocket clients.");
    sb_printf(out, "dispatchd_ws_clients %ld\n", (long)lds(&m->ws_clients));
    family(out, "dispatchd_ws_messages_sent_total", "counter", "WebSocket messages written to clients, by type.");
    for (int t = 0; t < WS_TYPE_COUNT; t++)
        sb_printf(out, "dispatchd_ws_messages_sent_total{type=\"%s\"} %lu\n", ws_type_name(t),
                  (unsigned long)ld(&m->ws_sent[t]));
    family(out, "dispatchd_ws_disconnects_total", "counter", "WebSocket clients gone, by why.");
    for (int r = 0; r < WS_CLOSE_REASON_COUNT; r++)
        sb_printf(out, "dispatchd_ws_disconnects_total{reason=\"%s\"} %lu\n", ws_close_reason_name(r),
                  (unsigned long)ld(&m->ws_disconnects[r]));
    family(out, "dispatchd_ws_queue_bytes", "gauge",
           "The longest send queue of any WebSocket client, bytes (checked every 250 ms).");
    sb_printf(out, "dispatchd_ws_queue_bytes %ld\n", (long)lds(&m->ws_queue_bytes));
    family(out, "dispatchd_http_connections_refused_total", "counter",
           "Control-plane connections closed at once: the connection cap was reached.");
    sb_printf(out, "dispatchd_http_connections_refused_total %lu\n", (unsigned long)ld(&m->http_conns_refused));
    family(out, "dispatchd_http_connections_evicted_total", "counter",
           "Connections that had sent nothing, closed at the cap to make room for a new one.");
    sb_printf(out, "dispatchd_http_connections_evicted_total %lu\n", (unsigned long)ld(&m->http_conns_evicted));

    pthread_mutex_lock(&lock);
    family(out, "dispatchd_http_requests_total", "counter", "HTTP requests by route and status.");
    for (int i = 0; i < nhttp; i++)
        sb_printf(out, "dispatchd_http_requests_total{path=\"%s\",code=\"%d\"} %lu\n", http_series[i].path,
                  http_series[i].status, (unsigned long)http_series[i].n);
    if (http_unlabelled > 0)
        sb_printf(out, "dispatchd_http_requests_total{path=\"unlabelled\",code=\"other\"} %lu\n",
                  (unsigned long)http_unlabelled);
    for (int i = 0; i < nhooks; i++)
        hooks[i].fn(out, hooks[i].ctx);
    pthread_mutex_unlock(&lock);
}
