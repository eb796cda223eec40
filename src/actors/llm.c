/*
 * llm.c -- the LLM actor: classifies records with any OpenAI-compatible
 * chat-completions endpoint, on a dedicated thread that never waits for one
 * request: up to [openai] max_inflight requests run at once over reused
 * connections (llm_transport.c), each with its own time limit.
 *
 * The model is asked for a JSON object with the classification's fields
 * (category, priority, severity, effort, component, confidence, tags,
 * summary, reasoning, sentiment); the answer is validated (cls_from_json: enumerations, confidence in
 * 0..1, text cut to fit). An invalid answer gets one repair request (the
 * model sees its answer and what was wrong); a second invalid answer sends
 * the record to the DLQ as permanent, so nothing half-valid is stored.
 * Timeouts, transport errors, 408, 429 and 5xx are retried with capped
 * exponential backoff and jitter (429 honours Retry-After), holding only
 * that record, and so only its key: other keys go on. Other 4xx go to the
 * DLQ as permanent; retries exhausted, as transient. Those decisions, the
 * circuit breaker and the window are llm_policy.c's.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_gate.h"
#include "llm_policy.h"
#include "llm_transport.h"
#include "local.h"
#include "log.h"
#include "pipeline.h"
#include "strbuf.h"
#include "strmap.h"

#define TICK_MS 50                /* pacing of what no event announces: the breaker's
                                     open time, the gate's retry time, budget rechecks */
#define BUDGET_RECHECK_MS 10000
#define BUDGET_LOG_MS 600000      /* a spent budget is logged at most this often */

typedef struct llm_call {
    record_t *r;
    llm_exchange_t *x;            /* while its request runs */
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
    rt_actor_t *self;
    llm_transport_t *transport;
    int inflight;
    llm_call_t *running;
    llm_call_t **queue;           /* waiting for a free slot, FIFO */
    size_t qhead, qlen, qcap;
    uint64_t rng;
    breaker_t breaker;
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
    bool fresh_timer;             /* a KNOWN_WAIT_MS timer is out for them */
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

/* rt_timer args that are not calls */
static char TICK, FRESH_DUE;

static void set_request(llm_state_t *s, llm_call_t *c, const char *bad, const char *why)
{
    free(c->request);
    c->request = llm_request_json(s->p->cfg, &c->r->event, bad, why);
    c->est_tokens = llm_gate_estimate(strlen(c->request));
}

static void start(llm_state_t *s, llm_call_t *c)
{
    c->x = llm_transport_start(s->transport, c->request, &c->response, c);
    s->inflight++;
    c->prev = NULL;
    c->next = s->running;
    if (s->running)
        s->running->prev = c;
    s->running = c;
}

static void breaker_changed(llm_state_t *s)
{
    static const char *const names[] = {"closed", "half-open", "open"};
    log_warn("llm", "circuit breaker %s (after %d consecutive failures)", names[s->breaker.state], s->breaker.failures);
    __atomic_store_n(&g_metrics.circuit_state, (int64_t)s->breaker.state, __ATOMIC_RELAXED);
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
        breaker_started(&s->breaker);
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
    if (s->nparked > 0 && now >= s->budget_recheck_ms) {
        unpark(s);
        s->budget_recheck_ms = now + BUDGET_RECHECK_MS;
    }
    int limit = (int)s->window;
    while (s->qlen > 0 && s->inflight < limit) {
        breaker_state_t before = s->breaker.state;
        int allowed = breaker_allow(&s->breaker, now);
        if (s->breaker.state != before)
            breaker_changed(s);
        if (allowed == 0 && !s->fallback)
            return;
        if (allowed == 0) {
            fall_back(s, pop_front(s), &g_metrics.llm_fallbacks);
            continue;
        }
        if (now < s->retry_ms)
            return;
        int n = limit - s->inflight < (int)s->qlen ? limit - s->inflight : (int)s->qlen;
        if (allowed > 0 && n > allowed)
            n = allowed;   /* the probe */
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

static void release_slot(llm_state_t *s, llm_call_t *c)
{
    c->x = NULL;
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
    rt_timer_start(s->self, llm_retry_delay_ms(c->attempts, retry_after_s, &s->rng), 0, c);
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

/* The transport's report of a finished request. */
static void completed(void *ctx, void *call, const llm_result_t *res)
{
    llm_state_t *s = ctx;
    llm_call_t *c = call;
    release_slot(s, c);
    if (breaker_record(&s->breaker, llm_outcome_failed(res->transport_ok, res->status), rt_now_ms()))
        breaker_changed(s);
    metric_add(&g_metrics.llm_requests[llm_code_of(res->transport_ok ? res->status : 0, res->timed_out)], 1);
    char why[256];
    switch (llm_outcome_of(res->transport_ok, res->status)) {
    case LLM_ANSWERED:
        s->window = llm_window_answered(s->window, s->p->cfg->llm_max_inflight);
        __atomic_store_n(&g_metrics.llm_window, (int64_t)s->window, __ATOMIC_RELAXED);
        answered(s, c);
        break;
    case LLM_RETRY:
        if (!res->transport_ok) {
            snprintf(why, sizeof(why), "%s", res->error);
        } else {
            if (res->status == 429) {
                /* The provider's limit: every request of the group waits,
                 * not only this one, and fewer go out at once afterwards. */
                long ms = res->retry_after_s > 0 ? res->retry_after_s * 1000 : 1000;
                uint64_t now = rt_now_ms();
                if (llm_gate_pause(s->gate, ms)) {   /* once per pause, as the gate's share */
                    s->window = llm_window_limited(s->window);
                    __atomic_store_n(&g_metrics.llm_window, (int64_t)s->window, __ATOMIC_RELAXED);
                }
                if (s->retry_ms < now + (uint64_t)ms)
                    s->retry_ms = now + (uint64_t)ms;
            }
            snprintf(why, sizeof(why), "HTTP %ld", res->status);
        }
        retry_later(s, c, res->retry_after_s, why);
        break;
    case LLM_REFUSED: {
        json_t *root = json_loadb(c->response.data ? c->response.data : "", c->response.len, 0, NULL);
        const char *msg = json_string_value(json_object_get(json_object_get(root, "error"), "message"));
        snprintf(why, sizeof(why), "LLM HTTP %ld: %.180s", res->status, msg ? msg : "refused");
        json_decref(root);
        finish(s, c, false, ERROR_PERMANENT, why);
        break;
    }
    }
}

static void new_call(llm_state_t *s, record_t *r)
{
    llm_call_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->r = r;
    set_request(s, c, NULL, NULL);
    c->started_us = now_us();
    r->cls.cost_usd = 0;
    if (give_up(s, c))
        return;
    if (s->nnew == s->capnew) {
        s->capnew = s->capnew ? s->capnew * 2 : 256;
        s->fresh = realloc(s->fresh, s->capnew * sizeof(*s->fresh));
        if (s->fresh == NULL)
            abort();
    }
    s->fresh[s->nnew++] = c;
    if (s->nnew >= KNOWN_BATCH) {
        check_new(s);
        pump(s);
    } else if (!s->fresh_timer) {
        s->fresh_timer = true;
        rt_timer_start(s->self, KNOWN_WAIT_MS, 0, &FRESH_DUE);
    }
}

static void llm_handler(rt_actor_t *self, rt_msg_t *msg)
{
    llm_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_LLM_CALL:
        new_call(s, (record_t *)msg);
        return;   /* the record travels on */
    case RT_MSG_IO:
        llm_transport_io(s->transport, (rt_io_msg_t *)msg);
        pump(s);   /* freed slots */
        break;
    case RT_MSG_TIMER: {
        void *arg = ((rt_timer_msg_t *)msg)->arg;
        if (arg == &FRESH_DUE) {
            s->fresh_timer = false;
            if (s->nnew > 0)
                check_new(s);
            pump(s);
        } else if (arg == &TICK) {
            if (s->nnew > 0 && __atomic_load_n(&s->p->stopping, __ATOMIC_ACQUIRE))
                check_new(s);
            pump(s);   /* the breaker's open time, the gate's retry time, budgets */
        } else {
            enqueue(s, arg);   /* a retry's delay is over */
        }
        break;
    }
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
        llm_transport_abandon(s->transport, c->x);
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
    llm_transport_free(s->transport);
    free(s);
}

rt_actor_t *llm_spawn(pipeline_t *p)
{
    llm_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->p = p;
    s->rng = 0x9E3779B97F4A7C15ULL;
    breaker_init(&s->breaker, p->cfg->breaker_failures, (uint64_t)p->cfg->breaker_open_ms);
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
    /* Many messages per activation: curl works once per activation on the
     * sockets that became ready, not once per new request. */
    rt_actor_opts_t o = {.name = "llm", .dedicated = true, .batch = 64, .capacity = 1 << 20,
                         .finalizer = llm_finalize};
    s->self = rt_spawn(p->rt, llm_handler, s, &o);
    s->transport = llm_transport_new(s->self, p->cfg, completed, s);
    rt_timer_start(s->self, TICK_MS, TICK_MS, &TICK);
    return s->self;
}
