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

#include "llm_internal.h"
#include "log.h"
#include "llm.h"
#include "classifier.h"
#include "dlq_retry.h"
#include "publisher.h"
#include "storage.h"
#include "strbuf.h"
#include "strmap.h"

#define TICK_MS 50                /* pacing of what no event announces: the breaker's
                                     open time, the gate's retry time, budget rechecks */

/* rt_timer args that are not calls */
static char TICK, FRESH_DUE;

static void set_request(llm_state_t *s, llm_call_t *c, const char *bad, const char *why)
{
    free(c->request);
    c->request = llm_request_json(s->env->cfg, &c->r->event, bad, why);
    c->est_tokens = llm_gate_estimate(strlen(c->request));
}

void llm_start(llm_state_t *s, llm_call_t *c)
{
    c->x = llm_transport_start(s->transport, c->request, &c->response, c);
    s->inflight++;
    __atomic_store_n(&g_metrics.llm_inflight, (int64_t)s->inflight, __ATOMIC_RELAXED);
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
void llm_call_free(llm_call_t *c);

/* The breaker is open, or the budget spent: the record is classified
 * here, locally. */
void llm_fall_back(llm_state_t *s, llm_call_t *c, uint64_t *counter)
{
    record_t *r = c->r;
    const issue_event_t *e = &r->event;
    cls_input_t in = cls_input_of(e);
    if (s->model != NULL)
        classify_local(s->model, &s->scratch, &in, &r->cls);
    else
        classify_rules(&in, &r->cls);
    metric_add(counter, 1);
    c->started_us = 0;   /* not an LLM answer */
    finish(s, c, true, ERROR_NONE, NULL);
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
    uint64_t gens = __atomic_load_n(&s->env->status->generations_changed, __ATOMIC_ACQUIRE);
    bool stopping = env_stopping(s->env);
    if (gens != s->seen_generations || s->cancel_pending || stopping != s->seen_stopping) {
        s->seen_generations = gens;
        s->seen_stopping = stopping;
        s->cancel_pending = false;
        llm_purge(s);
    }
    uint64_t now = rt_now_ms();
    if (ring_len(&s->parked) > 0 && now >= s->budget_recheck_ms) {
        llm_unpark(s);
        s->budget_recheck_ms = now + BUDGET_RECHECK_MS;
    }
    int limit = (int)s->window;
    while (ring_len(&s->queue) > 0 && s->inflight < limit) {
        breaker_state_t before = s->breaker.state;
        int allowed = breaker_allow(&s->breaker, now);
        if (s->breaker.state != before)
            breaker_changed(s);
        if (allowed == 0 && !s->fallback)
            return;
        if (allowed == 0) {
            llm_fall_back(s, ring_pop(&s->queue), &g_metrics.llm_fallbacks);
            continue;
        }
        if (now < s->retry_ms)
            return;
        int n = limit - s->inflight < (int)ring_len(&s->queue) ? limit - s->inflight : (int)ring_len(&s->queue);
        if (allowed > 0 && n > allowed)
            n = allowed;   /* the probe */
        for (int i = 0; i < n; i++)
            s->est[i] = ((llm_call_t *)ring_at(&s->queue, i))->est_tokens;
        int m = llm_gate_admit(s->gate, n, s->est, now, &s->retry_ms);
        if (m == 0)
            return;
        for (int i = 0; i < m; i++)
            s->batch[i] = ring_pop(&s->queue);
        llm_spend(s, m);
    }
}

static void enqueue(llm_state_t *s, llm_call_t *c)
{
    if (llm_give_up(s, c))
        return;
    ring_push(&s->queue, c);
    pump(s);
}

static void release_slot(llm_state_t *s, llm_call_t *c)
{
    c->x = NULL;
    s->inflight--;
    __atomic_store_n(&g_metrics.llm_inflight, (int64_t)s->inflight, __ATOMIC_RELAXED);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->running = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

void llm_call_free(llm_call_t *c)
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
    llm_call_free(c);
    if (!ok) {
        log_warn("llm", "partition %d offset %lld to DLQ: %s", r->partition, (long long)r->offset, error);
        publisher_dead_letter(s->env, r, cls, error);
        return;
    }
    storage_send(s->env, r);
}

/* Retries after a delay on a timer; the record keeps its key meanwhile. */
static void retry_later(llm_state_t *s, llm_call_t *c, long retry_after_s, const char *why)
{
    c->attempts++;
    if (c->attempts == 1)
        c->first_failed_ms = rt_now_ms();
    int budget_ms = s->env->cfg->retry_inprocess_ms;
    if (c->attempts > s->env->cfg->llm_max_retries ||
        (budget_ms > 0 && rt_now_ms() - c->first_failed_ms >= (uint64_t)budget_ms)) {
        /* Past the in-process budget: the record leaves its partition for
         * the retry path, so the partition's commit point moves on. */
        char e[320];   /* why may be a 255-byte reason */
        snprintf(e, sizeof(e), "LLM unavailable after %d attempts: %s", c->attempts, why);
        record_t *r = c->r;
        r->attempts = c->attempts;
        llm_call_free(c);
        dlq_retry_failed(s->env, r, e);
        return;
    }
    rt_timer_start(s->self, llm_retry_delay_ms(&s->retry, c->attempts, retry_after_s, &s->rng), 0, c);
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
    double cost = (double)a->prompt_tokens * s->env->cfg->llm_price_in / 1e6 +
                  (double)a->completion_tokens * s->env->cfg->llm_price_out / 1e6;
    r->cls.cost_usd += cost;
    metric_add(&g_metrics.llm_cost_nano_usd, (uint64_t)(cost * 1e9));
    long used = a->prompt_tokens + a->completion_tokens;
    metric_add(&g_metrics.llm_tokens, (uint64_t)used);
    llm_gate_answered(s->gate, c->est_tokens, (double)used);
    if (rc == 0) {
        cls_copy_text(r->cls.model_version, sizeof(r->cls.model_version),
                      a->model[0] ? a->model : s->env->cfg->openai_model);
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
    metric_add(&g_metrics.llm_requests[reply_code_of(res->transport_ok ? res->status : 0, res->timed_out)], 1);
    char why[256];
    switch (llm_outcome_of(res->transport_ok, res->status)) {
    case LLM_ANSWERED:
        s->window = llm_window_answered(s->window, s->env->cfg->llm_max_inflight);
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
    if (llm_give_up(s, c))
        return;
    ring_push(&s->fresh, c);
    if (ring_len(&s->fresh) >= KNOWN_BATCH) {
        llm_check_new(s);
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
        /* Freed slots are filled once the sockets ready now are served:
         * one admission (a lease from the group's limits, a database round
         * trip when it runs out) for many answers, not one per answer. */
        if (!s->pump_queued) {
            s->pump_queued = true;
            rt_send_force(self, rt_msg_new(sizeof(rt_msg_t), MSG_LLM_PUMP));
        }
        break;
    case MSG_LLM_PUMP:
        s->pump_queued = false;
        pump(s);
        break;
    case RT_MSG_TIMER: {
        void *arg = ((rt_timer_msg_t *)msg)->arg;
        if (arg == &FRESH_DUE) {
            s->fresh_timer = false;
            if (ring_len(&s->fresh) > 0)
                llm_check_new(s);
            pump(s);
        } else if (arg == &TICK) {
            if (ring_len(&s->fresh) > 0 && env_stopping(s->env))
                llm_check_new(s);
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
        llm_call_free(c);
    }
    llm_unpark(s);
    for (size_t i = 0; i < ring_len(&s->queue); i++) {
        llm_call_t *c = ring_at(&s->queue, i);
        record_free(c->r);
        llm_call_free(c);
    }
    ring_free(&s->queue);
    ring_free(&s->parked);
    free(s->batch);
    free(s->est);
    free(s->ids);
    free(s->versions);
    free(s->known);
    llm_call_t *c;
    while ((c = ring_pop(&s->fresh)) != NULL) {
        record_free(c->r);
        llm_call_free(c);
    }
    ring_free(&s->fresh);
    strmap_free(&s->cancelled);
    llm_gate_free(s->gate);
    if (s->model != NULL) {
        model_free(s->model);
        model_vec_free(&s->scratch);
    }
    llm_transport_free(s->transport);
    free(s);
}

rt_actor_t *llm_spawn(const actor_env_t *env)
{
    llm_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    s->rng = 0x9E3779B97F4A7C15ULL;
    breaker_init(&s->breaker, env->cfg->breaker_failures, (uint64_t)env->cfg->breaker_open_ms);
    s->retry = backoff_configured(&BACKOFF_LLM, env->cfg->llm_retry_initial_ms, env->cfg->llm_retry_max_ms);
    s->gate = llm_gate_new(env->cfg);
    s->window = env->cfg->llm_max_inflight;
    g_metrics.llm_window = env->cfg->llm_max_inflight;
    s->batch = calloc((size_t)env->cfg->llm_max_inflight, sizeof(*s->batch));
    s->est = calloc((size_t)env->cfg->llm_max_inflight, sizeof(*s->est));
    s->ids = calloc((size_t)env->cfg->llm_max_inflight, sizeof(*s->ids));
    s->versions = calloc((size_t)env->cfg->llm_max_inflight, sizeof(*s->versions));
    s->known = calloc((size_t)env->cfg->llm_max_inflight, sizeof(*s->known));
    if (s->batch == NULL || s->est == NULL || s->ids == NULL || s->versions == NULL || s->known == NULL)
        abort();
    strmap_init(&s->cancelled);
    s->fallback = strcmp(env->cfg->breaker_mode, "fallback") == 0;
    s->budget_fallback = strcmp(env->cfg->budget_mode, "fallback") == 0;
    if (s->fallback || s->budget_fallback) {
        char err[256];
        if ((s->model = model_load(env->cfg->model_file, err, sizeof(err))) != NULL)
            model_vec_init(&s->scratch);
        else
            log_info("llm", "breaker fallback uses the rules (%s)", err);
    }
    /* Many messages per activation: curl works once per activation on the
     * sockets that became ready, not once per new request. */
    rt_actor_opts_t o = {.name = "llm", .dedicated = true, .batch = 64, .capacity = 1 << 20,
                         .finalizer = llm_finalize};
    s->self = rt_spawn(env->rt, llm_handler, s, &o);
    s->transport = llm_transport_new(s->self, env->cfg, completed, s);
    rt_timer_start(s->self, TICK_MS, TICK_MS, &TICK);
    return s->self;
}
