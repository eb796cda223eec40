/*
 * llm.c -- the LLM actor: classifies records with any OpenAI-compatible
 * chat-completions endpoint through libcurl's multi interface, on a
 * dedicated thread that never waits for one request: up to
 * [openai] max_inflight requests run at once over reused connections, each
 * with its own time limit.
 *
 * The model is asked for a JSON object with the fields of CONTRACT section
 * 3; the answer is validated (cls_from_json: enumerations, confidence in
 * 0..1, text cut to fit). An invalid answer gets one repair request (the
 * model sees its answer and what was wrong); a second invalid answer sends
 * the record to the DLQ as permanent, so nothing half-valid is stored.
 * Timeouts, transport errors, 408, 429 and 5xx are retried with capped
 * exponential backoff and jitter (429 honours Retry-After), holding only
 * that record, and so only its key: other keys go on. Other 4xx go to the
 * DLQ as permanent; retries exhausted, as transient.
 *
 * What may be spent is the gate's to say (llm_gate.c: the group's rate
 * limits, a 429's pause, the daily budgets). A 429 also halves this
 * process's window of requests in flight (once per pause), which regrows
 * by one per answer. A record whose budget is spent waits here, parked
 * (its partition fills and pauses), until the budget is asked again every
 * BUDGET_RECHECK_MS -- the next UTC day or a raised limit lets it go -- or,
 * with budget_mode = fallback, is classified locally. A record of a sync
 * cancelled while it waited is skipped, never sent.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "llm_gate.h"
#include "local.h"
#include "backoff.h"
#include "log.h"
#include "pipeline.h"
#include "strbuf.h"
#include "strmap.h"

#define POLL_MS 50
#define BUDGET_RECHECK_MS 10000
#define BUDGET_LOG_MS 600000      /* a spent budget is logged at most this often */

static const char *SYSTEM_PROMPT =
    "You triage GitHub issues. Answer with one JSON object and nothing else, with these fields: "
    "\"category\": one of bug, feature_request, enhancement, documentation, question, security; "
    "\"priority\": one of low, medium, high, critical; \"severity\": one of low, medium, high, critical; "
    "\"estimated_effort\": one of small, medium, large; \"component\": the affected area in a few words; "
    "\"confidence\": a number from 0 to 1; \"tags\": up to 8 short strings; \"summary\": one sentence; "
    "\"reasoning\": one or two sentences; \"sentiment\": one of positive, neutral, negative.";

typedef struct llm_call {
    record_t *r;
    CURL *easy;
    struct curl_slist *headers;
    char *request;                /* the request body, kept for retries */
    strbuf_t response;
    int attempts;                 /* requests that failed for transport reasons */
    bool repairing;
    bool budgeted;                /* granted by the daily budgets */
    double est_tokens;            /* the request's tokens, reckoned */
    uint64_t started_us;
    struct llm_call *prev, *next; /* the running ones, for shutdown */
} llm_call_t;

typedef struct llm_state {
    pipeline_t *p;
    CURLM *multi;
    int ep;                       /* epoll: curl's sockets and the wake-up eventfd */
    int wake_fd;
    int64_t curl_due_ms;          /* curl's timer: act by then; -1 none */
    int inflight;
    llm_call_t *running;
    llm_call_t **queue;           /* waiting for a free slot, FIFO */
    size_t qhead, qlen, qcap;
    uint64_t rng;
    char *url, *auth;
    /* circuit breaker */
    int failures;                 /* consecutive failed or timed-out requests */
    int breaker;                  /* BREAKER_* */
    uint64_t open_until_ms;
    bool probing;                 /* half-open: the one probe is out */
    bool fallback;                /* [openai] breaker_mode = fallback */
    model_t *model;               /* for the fallback, NULL: rules */
    model_vec_t scratch;
    /* the group's limits */
    llm_gate_t *gate;
    uint64_t retry_ms;            /* the gate said: no request before */
    double window;                /* requests in flight allowed now (429s halve it) */
    llm_call_t **batch;           /* scratch for one admission, max_inflight */
    double *est;
    long long *ids;               /* scratch for the version lookup */
    const char **versions;
    bool *known;
    llm_call_t **fresh;           /* new calls, their versions not yet looked up */
    size_t nnew, capnew;
    uint64_t fresh_since_ms;
    llm_call_t **parked;          /* budget spent: held */
    size_t nparked, capparked;
    uint64_t budget_recheck_ms;
    uint64_t budget_logged_ms;
    bool budget_fallback;         /* [classifier] budget_mode = fallback */
    strmap_t cancelled;           /* syncs whose waiting records are skipped */
    uint64_t seen_generations;    /* p->generations_changed at the last purge */
    bool seen_stopping;
    bool cancel_pending;          /* a cancel arrived since the last purge */
} llm_state_t;

enum { BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN };

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    llm_call_t *c = ctx;
    sb_append(&c->response, data, size * n);
    return size * n;
}

/* The user message: title, labels and the body cut to body_chars at a
 * character boundary. */
static char *user_message(const pipeline_t *p, const record_t *r)
{
    const issue_event_t *e = &r->event;
    const char *body = e->comment_body ? e->comment_body : e->body ? e->body : "";
    size_t max = (size_t)p->cfg->llm_body_chars, len = strlen(body);
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)body[len] & 0xC0) == 0x80)
            len--;
    }
    strbuf_t b;
    sb_init(&b);
    sb_printf(&b, "Repository: %s/%s\nTitle: %s\nLabels:", e->owner ? e->owner : "", e->repo ? e->repo : "",
              e->title ? e->title : "");
    size_t i;
    json_t *l;
    json_array_foreach(e->labels, i, l) {
        const char *name = json_string_value(json_object_get(l, "name"));
        sb_printf(&b, " %s", name ? name : "");
    }
    sb_puts(&b, "\n\nBody:\n");
    sb_append(&b, body, len);
    return b.data;
}

static char *request_json(const llm_state_t *s, const record_t *r, const char *bad, const char *why)
{
    char *user = user_message(s->p, r);
    json_t *msgs = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", SYSTEM_PROMPT, "role", "user",
                             "content", user);
    free(user);
    if (bad != NULL) {
        char fix[512];
        snprintf(fix, sizeof(fix),
                 "That answer was not valid: %s. Reply again with only the JSON object, every field present and "
                 "only the allowed values.", why);
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant", "content", bad));
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", fix));
    }
    json_t *req = json_pack("{s:s, s:o, s:i, s:{s:s}}", "model", s->p->cfg->openai_model, "messages", msgs,
                            "temperature", 0, "response_format", "type", "json_object");
    char *out = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return out;
}

static void set_request(llm_state_t *s, llm_call_t *c, const char *bad, const char *why)
{
    free(c->request);
    c->request = request_json(s, c->r, bad, why);
    c->est_tokens = llm_gate_estimate(strlen(c->request));
}

static void start(llm_state_t *s, llm_call_t *c)
{
    sb_free(&c->response);
    sb_init(&c->response);
    c->easy = curl_easy_init();
    curl_easy_setopt(c->easy, CURLOPT_URL, s->url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->request);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)s->p->cfg->llm_timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(s->multi, c->easy);
    s->inflight++;
    c->prev = NULL;
    c->next = s->running;
    if (s->running)
        s->running->prev = c;
    s->running = c;
}

static void set_breaker(llm_state_t *s, int state)
{
    static const char *const names[] = {"closed", "half-open", "open"};
    if (s->breaker != state)
        log_warn("llm", "circuit breaker %s (after %d consecutive failures)", names[state], s->failures);
    s->breaker = state;
    __atomic_store_n(&g_metrics.circuit_state, state, __ATOMIC_RELAXED);
}

static void finish(llm_state_t *s, llm_call_t *c, bool ok, error_class_t cls, const char *error);
static void call_free(llm_call_t *c);

/* The breaker is open, or the budget spent: the record is classified
 * here, locally. */
static void fall_back(llm_state_t *s, llm_call_t *c, uint64_t *counter)
{
    record_t *r = c->r;
    const issue_event_t *e = &r->event;
    cls_input_t in = {e->title, e->comment_body ? e->comment_body : e->body, e->labels};
    if (s->model != NULL)
        classify_local(s->model, &s->scratch, &in, &r->cls);
    else
        classify_rules(&in, &r->cls);
    metric_add(counter, 1);
    c->started_us = 0;   /* not an LLM answer */
    finish(s, c, true, ERROR_NONE, NULL);
}

static void queue_grow(llm_state_t *s)
{
    if (s->qlen < s->qcap)
        return;
    size_t ncap = s->qcap ? s->qcap * 2 : 256;
    llm_call_t **n = malloc(ncap * sizeof(*n));
    if (n == NULL)
        abort();
    for (size_t i = 0; i < s->qlen; i++)
        n[i] = s->queue[(s->qhead + i) % s->qcap];
    free(s->queue);
    s->queue = n;
    s->qcap = ncap;
    s->qhead = 0;
}

static void push_back(llm_state_t *s, llm_call_t *c)
{
    queue_grow(s);
    s->queue[(s->qhead + s->qlen++) % s->qcap] = c;
}

static void push_front(llm_state_t *s, llm_call_t *c)
{
    queue_grow(s);
    s->qhead = (s->qhead + s->qcap - 1) % s->qcap;
    s->queue[s->qhead] = c;
    s->qlen++;
}

static llm_call_t *pop_front(llm_state_t *s)
{
    llm_call_t *c = s->queue[s->qhead];
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qlen--;
    return c;
}

static bool cancelled(llm_state_t *s, const record_t *r)
{
    return r->sync_id[0] && strmap_count(&s->cancelled) > 0 && strmap_get(&s->cancelled, r->sync_id) != NULL;
}

/* Waiting records that must not be sent: of a revoked or reset partition,
 * or all of them once the process stops (dropped: the next owner redoes
 * them, and neither a revoke nor a shutdown waits for calls that a limit or
 * budget holds back), or of a cancelled sync (skipped, as the classifier
 * skips them). */
static bool give_up(llm_state_t *s, llm_call_t *c)
{
    record_t *r = c->r;
    if (pipeline_record_stale(s->p, r) || __atomic_load_n(&s->p->stopping, __ATOMIC_ACQUIRE)) {
        r->dropped = true;
    } else if (cancelled(s, r)) {
        r->result = RESULT_SKIPPED;
        metric_add(&g_metrics.cancelled_skips, 1);
    } else {
        return false;
    }
    call_free(c);
    record_done(r);
    return true;
}

static void purge(llm_state_t *s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->qlen; i++) {
        llm_call_t *c = s->queue[(s->qhead + i) % s->qcap];
        if (!give_up(s, c))
            s->queue[(s->qhead + kept++) % s->qcap] = c;
    }
    s->qlen = kept;
    kept = 0;
    for (size_t i = 0; i < s->nparked; i++)
        if (!give_up(s, s->parked[i]))
            s->parked[kept++] = s->parked[i];
    gauge_add(&g_metrics.budget_waiting, (int64_t)kept - (int64_t)s->nparked);
    s->nparked = kept;
}

static void park(llm_state_t *s, llm_call_t *c)
{
    if (s->nparked == s->capparked) {
        s->capparked = s->capparked ? s->capparked * 2 : 256;
        s->parked = realloc(s->parked, s->capparked * sizeof(*s->parked));
        if (s->parked == NULL)
            abort();
    }
    if (s->nparked == 0) {
        uint64_t now = rt_now_ms();
        if (s->budget_logged_ms == 0 || now - s->budget_logged_ms >= BUDGET_LOG_MS) {
            log_warn("llm", "a daily LLM budget is spent (user '%s'): LLM-bound records wait; asking again every %d s",
                     c->r->user_id, BUDGET_RECHECK_MS / 1000);
            s->budget_logged_ms = now;
        }
        s->budget_recheck_ms = now + BUDGET_RECHECK_MS;
    }
    s->parked[s->nparked++] = c;
    gauge_add(&g_metrics.budget_waiting, 1);
}

/* The parked records go back to the head of the queue, oldest first, to
 * ask the budget again. */
static void unpark(llm_state_t *s)
{
    for (size_t i = s->nparked; i > 0; i--)
        push_front(s, s->parked[i - 1]);
    gauge_add(&g_metrics.budget_waiting, -(int64_t)s->nparked);
    s->nparked = 0;
}

/* New calls whose issue version has a classification already (this
 * version or a newer one) are not made: the record goes on as a replay,
 * which storage finishes from what it has (publishing only an event that
 * never went out). So an offset reset, a duplicate delivery or an old
 * version read again costs no second LLM call -- what the Python service
 * re-spent after every reset. New calls wait here until KNOWN_BATCH of
 * them or KNOWN_WAIT_MS, so one query serves many: a query per call took
 * a third of the thread at 4,500 calls/s. */
#define KNOWN_BATCH 64
#define KNOWN_WAIT_MS 5

static void check_new(llm_state_t *s)
{
    size_t done = 0;
    int cap = s->p->cfg->llm_max_inflight;
    while (done < s->nnew) {
        int m = 0;
        size_t first = done;
        for (; done < s->nnew && m < cap; done++) {
            llm_call_t *c = s->fresh[done];
            s->ids[m] = (long long)c->r->event.issue_id;
            s->versions[m] = c->r->event.updated_at ? c->r->event.updated_at : "infinity";
            m++;
        }
        llm_gate_known(s->gate, s->ids, s->versions, m, s->known);
        for (int k = 0; k < m; k++) {
            llm_call_t *c = s->fresh[first + (size_t)k];
            if (!s->known[k] || c->r->event.updated_at == NULL) {
                if (!give_up(s, c))
                    push_back(s, c);
                continue;
            }
            record_t *r = c->r;
            call_free(c);
            r->replay = true;
            metric_add(&g_metrics.llm_known_skips, 1);
            pipeline_classified(s->p, r);
        }
    }
    s->nnew = 0;
}

/* Starts the admitted calls the budgets allow (a record asks once: its
 * repair and retries use the same grant); the others are parked, or
 * classified locally. One database call per user in the batch. */
static void spend(llm_state_t *s, int n)
{
    llm_call_t **b = s->batch;
    for (int i = 0; i < n; i++) {
        if (b[i] == NULL || b[i]->budgeted)
            continue;
        const char *user = b[i]->r->user_id;
        int want = 0;
        for (int j = i; j < n; j++)
            want += b[j] != NULL && !b[j]->budgeted && strcmp(b[j]->r->user_id, user) == 0;
        int granted = llm_gate_budget(s->gate, user, want);
        bool db_down = granted < 0;
        if (db_down)
            s->retry_ms = rt_now_ms() + 1000;
        for (int j = i; j < n; j++) {
            llm_call_t *c = b[j];
            if (c == NULL || c->budgeted || strcmp(c->r->user_id, user) != 0)
                continue;
            if (granted > 0) {
                c->budgeted = true;
                granted--;
                continue;
            }
            b[j] = NULL;
            llm_gate_refund(s->gate, 1, c->est_tokens);
            if (db_down)
                push_front(s, c);   /* asked again once the database answers */
            else if (s->budget_fallback)
                fall_back(s, c, &g_metrics.budget_fallbacks);
            else
                park(s, c);
        }
    }
    for (int i = 0; i < n; i++) {
        if (b[i] == NULL)
            continue;
        if (s->breaker == BREAKER_HALF_OPEN)
            s->probing = true;
        start(s, b[i]);
    }
}

/* Starts queued calls while there are free slots in the window and the
 * breaker lets them: closed, or half-open for the one probe. Open, they
 * wait (pause) or are classified locally (fallback). Then the gate: what
 * it does not admit waits in the queue, whose records hold their
 * partitions -- held, not dropped. */
static void pump(llm_state_t *s)
{
    /* The waiting queue is looked through only when something made records
     * stale: scanning it on every pump cost 15% of the thread at 3,500
     * requests/s. New arrivals are checked one by one (new_call, enqueue). */
    uint64_t gens = __atomic_load_n(&s->p->generations_changed, __ATOMIC_ACQUIRE);
    bool stopping = __atomic_load_n(&s->p->stopping, __ATOMIC_ACQUIRE);
    if (gens != s->seen_generations || s->cancel_pending || stopping != s->seen_stopping) {
        s->seen_generations = gens;
        s->seen_stopping = stopping;
        s->cancel_pending = false;
        purge(s);
    }
    uint64_t now = rt_now_ms();
    if (s->breaker == BREAKER_OPEN && now >= s->open_until_ms) {
        set_breaker(s, BREAKER_HALF_OPEN);
        s->probing = false;
    }
    if (s->nparked > 0 && now >= s->budget_recheck_ms) {
        unpark(s);
        s->budget_recheck_ms = now + BUDGET_RECHECK_MS;
    }
    int limit = (int)s->window;
    while (s->qlen > 0 && s->inflight < limit) {
        bool blocked = s->breaker == BREAKER_OPEN || (s->breaker == BREAKER_HALF_OPEN && s->probing);
        if (blocked && !s->fallback)
            return;
        if (blocked) {
            fall_back(s, pop_front(s), &g_metrics.llm_fallbacks);
            continue;
        }
        if (now < s->retry_ms)
            return;
        int n = limit - s->inflight < (int)s->qlen ? limit - s->inflight : (int)s->qlen;
        if (s->breaker == BREAKER_HALF_OPEN)
            n = 1;   /* the probe */
        for (int i = 0; i < n; i++)
            s->est[i] = s->queue[(s->qhead + i) % s->qcap]->est_tokens;
        int m = llm_gate_admit(s->gate, n, s->est, now, &s->retry_ms);
        if (m == 0)
            return;
        for (int i = 0; i < m; i++)
            s->batch[i] = pop_front(s);
        spend(s, m);
    }
}

static void enqueue(llm_state_t *s, llm_call_t *c)
{
    if (give_up(s, c))
        return;
    push_back(s, c);
    pump(s);
}

/* A request's outcome for the breaker: answered (any HTTP status but 429,
 * which is the limit speaking, not a failure) or failed. */
static void breaker_record(llm_state_t *s, bool failed)
{
    if (!failed) {
        s->failures = 0;
        if (s->breaker != BREAKER_CLOSED)
            set_breaker(s, BREAKER_CLOSED);
        return;
    }
    s->failures++;
    if (s->breaker == BREAKER_HALF_OPEN || (s->breaker == BREAKER_CLOSED && s->failures >= s->p->cfg->breaker_failures)) {
        s->open_until_ms = rt_now_ms() + (uint64_t)s->p->cfg->breaker_open_ms;
        set_breaker(s, BREAKER_OPEN);
    }
}

static void release_slot(llm_state_t *s, llm_call_t *c)
{
    curl_multi_remove_handle(s->multi, c->easy);
    curl_easy_cleanup(c->easy);
    c->easy = NULL;
    s->inflight--;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->running = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void call_free(llm_call_t *c)
{
    curl_slist_free_all(c->headers);
    free(c->request);
    sb_free(&c->response);
    free(c);
}

static void finish(llm_state_t *s, llm_call_t *c, bool ok, error_class_t cls, const char *error)
{
    record_t *r = c->r;
    if (ok && c->started_us != 0) {
        histogram_observe_us(&g_metrics.classify[PROVIDER_OPENAI], now_us() - c->started_us);
        metric_add(&g_metrics.llm_calls, 1);
    }
    call_free(c);
    if (!ok) {
        log_warn("llm", "partition %d offset %lld to DLQ: %s", r->partition, (long long)r->offset, error);
        pipeline_dead_letter(s->p, r, cls, error);
        return;
    }
    pipeline_classified(s->p, r);
}

/* Retries after a delay on a timer; the record keeps its key meanwhile. */
static void retry_later(llm_state_t *s, llm_call_t *c, long retry_after_s, const char *why)
{
    c->attempts++;
    if (c->attempts > s->p->cfg->llm_max_retries) {
        char e[320];   /* why may be a 255-byte reason */
        snprintf(e, sizeof(e), "LLM unavailable after %d attempts: %s", c->attempts, why);
        c->r->attempts = c->attempts;
        finish(s, c, false, ERROR_TRANSIENT, e);
        return;
    }
    uint64_t ms = backoff_delay_ms(&BACKOFF_LLM, c->attempts, &s->rng);
    if (retry_after_s > 0 && (uint64_t)retry_after_s * 1000 > ms)
        ms = (uint64_t)retry_after_s * 1000;
    rt_timer_start(rt_current_actor(), ms, 0, c);
}

/* A 200: the answer, validated; one repair for an invalid one. */
static void answered(llm_state_t *s, llm_call_t *c)
{
    record_t *r = c->r;
    llm_answer_t answer, *a = &answer;
    char why[200];
    int rc = cls_from_llm_response(c->response.data, c->response.len, &r->cls, a, why, sizeof(why));
    if (rc < 0) {
        retry_later(s, c, 0, why);
        return;
    }
    double cost = (double)a->prompt_tokens * s->p->cfg->llm_price_in / 1e6 +
                  (double)a->completion_tokens * s->p->cfg->llm_price_out / 1e6;
    r->cls.cost_usd += cost;
    metric_add(&g_metrics.llm_cost_nano_usd, (uint64_t)(cost * 1e9));
    long used = a->prompt_tokens + a->completion_tokens;
    metric_add(&g_metrics.llm_tokens, (uint64_t)used);
    llm_gate_answered(s->gate, c->est_tokens, (double)used);
    if (rc == 0) {
        cls_copy_text(r->cls.model_version, sizeof(r->cls.model_version),
                      a->model[0] ? a->model : s->p->cfg->openai_model);
        snprintf(r->cls.provider, sizeof(r->cls.provider), "openai");
        finish(s, c, true, ERROR_NONE, NULL);
        return;
    }
    if (c->repairing) {
        char e[300];
        snprintf(e, sizeof(e), "LLM output invalid after one repair: %s", why);
        finish(s, c, false, ERROR_PERMANENT, e);
        return;
    }
    set_request(s, c, a->content, why);
    c->repairing = true;
    enqueue(s, c);
}

static void completed(llm_state_t *s, CURLMsg *m)
{
    llm_call_t *c = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
    long status = 0;
    curl_off_t retry_after = 0;
    curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(m->easy_handle, CURLINFO_RETRY_AFTER, &retry_after);
    CURLcode res = m->data.result;
    release_slot(s, c);
    if (s->breaker == BREAKER_HALF_OPEN)
        s->probing = false;
    breaker_record(s, res != CURLE_OK || status == 408 || status >= 500);
    bool timed_out = res == CURLE_OPERATION_TIMEDOUT;
    metric_add(&g_metrics.llm_requests[llm_code_of(res == CURLE_OK ? status : 0, timed_out)], 1);
    char why[256];
    if (res != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", curl_easy_strerror(res));
        retry_later(s, c, 0, why);
    } else if (status == 200) {
        if (s->window < s->p->cfg->llm_max_inflight) {
            s->window += 1;
            __atomic_store_n(&g_metrics.llm_window, (int64_t)s->window, __ATOMIC_RELAXED);
        }
        answered(s, c);
    } else if (status == 408 || status == 429 || status >= 500) {
        if (status == 429) {
            /* The provider's limit: every request of the group waits, not
             * only this one, and fewer go out at once afterwards. */
            long ms = retry_after > 0 ? (long)retry_after * 1000 : 1000;
            uint64_t now = rt_now_ms();
            if (llm_gate_pause(s->gate, ms)) {   /* once per pause, as the gate's share */
                s->window = s->window / 2 >= 1 ? s->window / 2 : 1;
                __atomic_store_n(&g_metrics.llm_window, (int64_t)s->window, __ATOMIC_RELAXED);
            }
            if (s->retry_ms < now + (uint64_t)ms)
                s->retry_ms = now + (uint64_t)ms;
        }
        snprintf(why, sizeof(why), "HTTP %ld", status);
        retry_later(s, c, (long)retry_after, why);
    } else {
        json_t *root = json_loadb(c->response.data ? c->response.data : "", c->response.len, 0, NULL);
        const char *msg = json_string_value(json_object_get(json_object_get(root, "error"), "message"));
        snprintf(why, sizeof(why), "LLM HTTP %ld: %.180s", status, msg ? msg : "refused");
        json_decref(root);
        finish(s, c, false, ERROR_PERMANENT, why);
    }
}

static void new_call(llm_state_t *s, record_t *r)
{
    llm_call_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->r = r;
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (s->auth != NULL && c->headers != NULL)
        c->headers = curl_slist_append(c->headers, s->auth);
    if (c->headers == NULL)
        abort();
    set_request(s, c, NULL, NULL);
    c->started_us = now_us();
    r->cls.cost_usd = 0;
    /* Given up at once if it must not be sent: after the polling loop has
     * ended at shutdown nothing would look at it again. */
    if (give_up(s, c))
        return;
    if (s->nnew == s->capnew) {
        s->capnew = s->capnew ? s->capnew * 2 : 256;
        s->fresh = realloc(s->fresh, s->capnew * sizeof(*s->fresh));
        if (s->fresh == NULL)
            abort();
    }
    if (s->nnew == 0)
        s->fresh_since_ms = rt_now_ms();
    s->fresh[s->nnew++] = c;
}

/* curl's sockets into the epoll set, as curl asks */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    llm_state_t *s = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event ev = {.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0),
                             .data.fd = fd};
    if (epoll_ctl(s->ep, EPOLL_CTL_MOD, fd, &ev) != 0)
        epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

/* curl's one timer: -1 cancels it */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    llm_state_t *s = userp;
    s->curl_due_ms = timeout_ms < 0 ? -1 : (int64_t)rt_now_ms() + timeout_ms;
    return 0;
}

static void llm_handler(rt_actor_t *self, rt_msg_t *msg)
{
    llm_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_LLM_CALL:
        new_call(s, (record_t *)msg);
        return;   /* the record travels on */
    case RT_MSG_TIMER:
        enqueue(s, ((rt_timer_msg_t *)msg)->arg);
        break;
    case MSG_LIMITS:
        llm_gate_set_limits(s->gate, ((limits_msg_t *)msg)->cfg);
        s->budget_recheck_ms = 0;   /* held records ask the new budget at once */
        pump(s);
        break;
    case MSG_SYNC_CANCELLED: {
        /* From the classifier: its waiting records are skipped at once
         * (purge), and none is sent later. */
        const char *id = ((sync_cancelled_msg_t *)msg)->sync_id;
        if (strmap_get(&s->cancelled, id) == NULL)
            strmap_put(&s->cancelled, id, s);
        s->cancel_pending = true;
        pump(s);   /* purges before anything starts */
        if (msg->reply_future != NULL || msg->reply_actor != NULL)
            rt_reply(msg, rt_msg_new(sizeof(rt_msg_t), MSG_SYNC_CANCELLED));
        break;
    }
    case MSG_POLL: {
        /* Sleep until a socket is ready, curl's timer is due or a sender
         * wakes us (pipeline_tell_llm), unless messages wait; then curl
         * works on the ready sockets only (curl_multi_poll looked at all
         * thousand every time). */
        int wait = rt_actor_depth(self) <= 1 ? POLL_MS : 0;
        if (s->nnew > 0 && wait > KNOWN_WAIT_MS)
            wait = KNOWN_WAIT_MS;
        if (s->curl_due_ms >= 0) {
            int64_t left = s->curl_due_ms - (int64_t)rt_now_ms();
            if (left < wait)
                wait = left > 0 ? (int)left : 0;
        }
        struct epoll_event ev[256];
        int n = epoll_wait(s->ep, ev, 256, wait);
        int running = 0;
        for (int i = 0; i < n; i++) {
            if (ev[i].data.fd == s->wake_fd) {
                uint64_t v;
                if (read(s->wake_fd, &v, sizeof(v)) < 0) { /* nothing to clear */ }
                continue;
            }
            int what = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                       (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                       (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(s->multi, ev[i].data.fd, what, &running);
        }
        if (s->curl_due_ms >= 0 && (int64_t)rt_now_ms() >= s->curl_due_ms) {
            s->curl_due_ms = -1;
            curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(s->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE)
                completed(s, m);
        if (s->nnew >= KNOWN_BATCH || (s->nnew > 0 && rt_now_ms() - s->fresh_since_ms >= KNOWN_WAIT_MS) ||
            (s->nnew > 0 && __atomic_load_n(&s->p->stopping, __ATOMIC_ACQUIRE)))
            check_new(s);
        pump(s);   /* freed slots, or the breaker's open time over */
        if (__atomic_load_n(&s->p->closing, __ATOMIC_ACQUIRE) ||
            (__atomic_load_n(&s->p->stopping, __ATOMIC_ACQUIRE) && s->inflight == 0 && s->qlen == 0 &&
             s->nnew == 0))
            break;   /* stop polling; the finalizer drops what is left (redelivered later) */
        rt_send_force(self, msg);
        return;
    }
    default:
        break;
    }
    rt_msg_free(msg);
}

static void llm_finalize(rt_actor_t *self)
{
    llm_state_t *s = rt_actor_state(self);
    /* Unfinished calls: their records are dropped, as any in flight at
     * shutdown; the next owner of their partitions reads them again. */
    while (s->running != NULL) {
        llm_call_t *c = s->running;
        release_slot(s, c);
        record_free(c->r);
        call_free(c);
    }
    unpark(s);
    for (size_t i = 0; i < s->qlen; i++) {
        llm_call_t *c = s->queue[(s->qhead + i) % s->qcap];
        record_free(c->r);
        call_free(c);
    }
    free(s->queue);
    free(s->parked);
    free(s->batch);
    free(s->est);
    free(s->ids);
    free(s->versions);
    free(s->known);
    for (size_t i = 0; i < s->nnew; i++) {
        record_free(s->fresh[i]->r);
        call_free(s->fresh[i]);
    }
    free(s->fresh);
    strmap_free(&s->cancelled);
    llm_gate_free(s->gate);
    if (s->model != NULL) {
        model_free(s->model);
        model_vec_free(&s->scratch);
    }
    curl_multi_cleanup(s->multi);
    close(s->ep);
    close(s->wake_fd);
    free(s->url);
    free(s->auth);
    free(s);
}

rt_actor_t *llm_spawn(pipeline_t *p)
{
    llm_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->p = p;
    s->rng = 0x9E3779B97F4A7C15ULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);   /* before any other thread uses curl */
    s->multi = curl_multi_init();
    if (s->multi == NULL)
        abort();
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)p->cfg->llm_max_inflight);
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->ep < 0 || s->wake_fd < 0)
        abort();
    struct epoll_event wev = {.events = EPOLLIN, .data.fd = s->wake_fd};
    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->wake_fd, &wev);
    s->curl_due_ms = -1;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    strbuf_t u;
    sb_init(&u);
    const char *base = p->cfg->openai_base_url;
    size_t bl = strlen(base);
    sb_printf(&u, "%.*s/chat/completions", (int)(bl > 0 && base[bl - 1] == '/' ? bl - 1 : bl), base);
    s->url = u.data;
    if (p->cfg->openai_api_key != NULL && p->cfg->openai_api_key[0]) {
        size_t n = strlen(p->cfg->openai_api_key) + 32;
        s->auth = malloc(n);
        if (s->auth == NULL)
            abort();
        snprintf(s->auth, n, "Authorization: Bearer %s", p->cfg->openai_api_key);
    }
    p->llm_wake_fd = s->wake_fd;
    s->gate = llm_gate_new(p->cfg);
    s->window = p->cfg->llm_max_inflight;
    g_metrics.llm_window = p->cfg->llm_max_inflight;
    s->batch = calloc((size_t)p->cfg->llm_max_inflight, sizeof(*s->batch));
    s->est = calloc((size_t)p->cfg->llm_max_inflight, sizeof(*s->est));
    s->ids = calloc((size_t)p->cfg->llm_max_inflight, sizeof(*s->ids));
    s->versions = calloc((size_t)p->cfg->llm_max_inflight, sizeof(*s->versions));
    s->known = calloc((size_t)p->cfg->llm_max_inflight, sizeof(*s->known));
    if (s->batch == NULL || s->est == NULL || s->ids == NULL || s->versions == NULL || s->known == NULL)
        abort();
    strmap_init(&s->cancelled);
    s->fallback = strcmp(p->cfg->breaker_mode, "fallback") == 0;
    s->budget_fallback = strcmp(p->cfg->budget_mode, "fallback") == 0;
    if (s->fallback || s->budget_fallback) {
        char err[256];
        if ((s->model = model_load(p->cfg->model_file, err, sizeof(err))) != NULL)
            model_vec_init(&s->scratch);
        else
            log_info("llm", "breaker fallback uses the rules (%s)", err);
    }
    /* Many messages per activation: one pass of curl over a thousand
     * connections per new request cost more than the requests. */
    rt_actor_opts_t o = {.name = "llm", .dedicated = true, .batch = 64, .capacity = 1 << 20,
                         .finalizer = llm_finalize};
    rt_actor_t *a = rt_spawn(p->rt, llm_handler, s, &o);
    rt_send_force(a, rt_msg_new(sizeof(rt_msg_t), MSG_POLL));
    return a;
}

void pipeline_tell_llm(pipeline_t *p, rt_msg_t *m)
{
    rt_send_force(p->llm, m);
    uint64_t one = 1;
    if (write(p->llm_wake_fd, &one, sizeof(one)) < 0) { /* already signalled (counter full) */ }
}
