/*
 * metrics.h -- the process's Prometheus metrics (their names and labels are
 * listed in the README's Metrics section).
 *
 * Counters and histograms are plain atomics in one global struct, updated
 * from any thread. Gauges whose truth lives elsewhere (mailbox depths,
 * consumer lag) are read at scrape time through hooks.
 */
#ifndef DISPATCHD_METRICS_H
#define DISPATCHD_METRICS_H

#include <stdint.h>

#include "strbuf.h"

enum record_result { RESULT_OK, RESULT_RETRY, RESULT_DLQ, RESULT_SKIPPED, RESULT_COUNT };
enum provider { PROVIDER_RULES, PROVIDER_LOCAL, PROVIDER_OPENAI, PROVIDER_COUNT };
/* dispatchd_llm_requests_total{code}, dispatchd_github_requests_total{code}:
 * HTTP statuses, and what never got one. */
enum reply_code { CODE_200, CODE_304, CODE_400, CODE_401, CODE_403, CODE_404, CODE_408, CODE_429, CODE_500, CODE_502, CODE_503, CODE_504,
                CODE_OTHER, CODE_TIMEOUT, CODE_TRANSPORT, CODE_COUNT };

/* /ws: dispatchd_ws_messages_sent_total{type}, dispatchd_ws_disconnects_total{reason}. */
enum ws_type { WS_ISSUE_UPDATE, WS_CLASSIFICATION_UPDATE, WS_SYNC_PROGRESS, WS_SYNC_COMPLETED, WS_SYNC_CANCELLED,
               WS_TYPE_COUNT };
enum ws_close_reason { WS_CLOSE_CLIENT, WS_CLOSE_SLOW, WS_CLOSE_EXPIRED, WS_CLOSE_PING, WS_CLOSE_SHUTDOWN,
                       WS_CLOSE_PROTOCOL, WS_CLOSE_REASON_COUNT };

/* dispatchd_retry_records_total{outcome}: what happened to records in the
 * retry path. */
enum retry_outcome { RETRY_ENTERED, RETRY_FOLLOWED, RETRY_FAILED_AGAIN, RETRY_DONE, RETRY_DEAD_LETTERED,
                     RETRY_OUTCOME_COUNT };

#define HIST_BUCKETS 16

typedef struct histogram {
    uint64_t counts[HIST_BUCKETS + 1];   /* last one is +Inf */
    uint64_t count;
    uint64_t sum_us;
} histogram_t;

typedef struct metrics {
    uint64_t records[RESULT_COUNT];
    int64_t inflight;
    int64_t partitions_paused;
    int64_t partitions_assigned;
    uint64_t rebalances;
    uint64_t offset_map_skips;
    uint64_t applied_replays;
    uint64_t cancelled_skips;
    histogram_t classify[PROVIDER_COUNT];
    histogram_t db_write;
    histogram_t db_batch_rows;         /* counts, not microseconds */
    histogram_t end_to_end;
    uint64_t db_rows;
    uint64_t db_batches;
    uint64_t db_copy_batches;     /* of those, new issues written by COPY */
    uint64_t db_reconnects;
    uint64_t db_dead_lettered;
    uint64_t llm_cost_nano_usd;
    uint64_t llm_requests[CODE_COUNT];
    uint64_t llm_calls;                /* classifications answered by the LLM */
    uint64_t llm_fallbacks;            /* classified locally: breaker open */
    uint64_t budget_fallbacks;         /* classified locally: budget spent */
    uint64_t llm_known_skips;          /* LLM calls not made: version classified before */
    int64_t budget_remaining;          /* the group's LLM classifications left today; -1 unknown */
    int64_t budget_daily_limit;        /* the group's daily LLM limit in force (run, SIGHUP) */
    int64_t budget_waiting;            /* LLM-bound records held for the budget */
    int64_t llm_window;                /* requests allowed in flight now (halved by 429s) */
    int64_t llm_inflight;              /* requests in flight now */
    uint64_t llm_tokens;               /* prompt and completion tokens used */
    int64_t circuit_state;             /* 0 closed, 1 half-open, 2 open */
    uint64_t cascade_local;            /* cascade: kept the local answer */
    uint64_t cascade_llm;              /* cascade: asked the LLM */
    uint64_t produced;
    uint64_t produce_errors;
    int64_t ws_clients;
    uint64_t ws_sent[WS_TYPE_COUNT];
    uint64_t ws_disconnects[WS_CLOSE_REASON_COUNT];
    int64_t ws_queue_bytes;            /* the longest send queue of any socket, bytes */
    uint64_t github_requests[CODE_COUNT];
    uint64_t github_pages;             /* issue pages answered (304s included) */
    uint64_t github_issues_published;
    uint64_t github_wait_ms;           /* time GitHub's limits or errors held the token here */
    int64_t github_syncs;              /* syncs this process runs */
    uint64_t retry_records[RETRY_OUTCOME_COUNT];
    int64_t retry_queue_depth;         /* records in this process's retry partitions, not done */
    int64_t parked_keys;               /* keys whose later records follow them into the retry path */
    uint64_t dlq_records[2];           /* by error class: [0] permanent, [1] transient */
    uint64_t dlq_replayed;             /* DLQ records re-published to the input topic */
    uint64_t http_conns_refused;   /* new connections closed at the cap */
    uint64_t http_conns_evicted;   /* silent connections closed to make room */
} metrics_t;

extern metrics_t g_metrics;

static inline void metric_add(uint64_t *c, uint64_t n) { __atomic_fetch_add(c, n, __ATOMIC_RELAXED); }
static inline void gauge_add(int64_t *g, int64_t n) { __atomic_fetch_add(g, n, __ATOMIC_RELAXED); }
void histogram_observe_us(histogram_t *h, uint64_t us);
/* A histogram of counts (sum_us then holds the sum of the counts). */
void histogram_observe_count(histogram_t *h, uint64_t n);
/* For one thread's private histogram: plain adds, merged in bulk later. */
void histogram_observe_local(histogram_t *h, uint64_t us);
void histogram_merge(histogram_t *into, histogram_t *local);
/* A copy read with atomic loads (another thread may be adding). */
void histogram_read(const histogram_t *h, histogram_t *out);
/* The q-quantile (0..1) in seconds of what a microsecond histogram gained
 * since `before` (a histogram_read copy), interpolated within its bucket
 * as Prometheus does; -1 when nothing was observed meanwhile. */
double histogram_quantile_since(const histogram_t *now, const histogram_t *before, double q);
const char *record_result_name(enum record_result r);
const char *ws_type_name(enum ws_type t);
/* The type of a message type's name; WS_TYPE_COUNT when it is none. */
enum ws_type ws_type_of(const char *name);
const char *ws_close_reason_name(enum ws_close_reason r);
const char *provider_name(enum provider p);
const char *retry_outcome_name(enum retry_outcome o);
/* The metric's code for an HTTP status (0: none: see timed_out). */
enum reply_code reply_code_of(long status, int timed_out);

/* path_label is a route template with static storage (kept, not copied). */
void metrics_http_request(const char *path_label, int status);

/* Hooks append their own families at scrape time. */
typedef void (*metrics_hook_fn)(strbuf_t *out, void *ctx);
void metrics_add_hook(metrics_hook_fn fn, void *ctx);
void metrics_clear_hooks(void);
void metrics_render(strbuf_t *out);

#endif
