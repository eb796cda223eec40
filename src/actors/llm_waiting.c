/*
 * llm_waiting.c -- the LLM actor's calls that wait: the queue for a slot in
 * the window, calls parked while a daily budget is spent, calls given up
 * (stale, stopping, a cancelled sync), and new calls whose issue version
 * was classified before (not made again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"
#include "log.h"
#include "storage.h"

static bool llm_cancelled(llm_state_t *s, const record_t *r)
{
    return r->sync_id[0] && strmap_count(&s->cancelled) > 0 && strmap_get(&s->cancelled, r->sync_id) != NULL;
}

/* Waiting records that must not be sent: of a revoked or reset partition,
 * or all of them once the process stops (dropped: the next owner redoes
 * them, and neither a revoke nor a shutdown waits for calls that a limit or
 * budget holds back), or of a cancelled sync (skipped, as the classifier
 * skips them). */
bool llm_give_up(llm_state_t *s, llm_call_t *c)
{
    record_t *r = c->r;
    if (record_stale(s->env, r) || env_stopping(s->env)) {
        r->dropped = true;
    } else if (llm_cancelled(s, r)) {
        r->result = RESULT_SKIPPED;
        metric_add(&g_metrics.cancelled_skips, 1);
    } else {
        return false;
    }
    llm_call_free(c);
    record_done(r);
    return true;
}

/* Gives up the calls of a ring that must not be sent, keeping the order
 * of the others; returns how many it gave up. */
static size_t purge_ring(llm_state_t *s, ring_t *calls)
{
    size_t kept = 0, n = ring_len(calls);
    for (size_t i = 0; i < n; i++) {
        llm_call_t *c = ring_at(calls, i);
        if (!llm_give_up(s, c))
            ring_set(calls, kept++, c);
    }
    ring_truncate(calls, kept);
    return n - kept;
}

void llm_purge(llm_state_t *s)
{
    purge_ring(s, &s->queue);
    gauge_add(&g_metrics.budget_waiting, -(int64_t)purge_ring(s, &s->parked));
}

static void llm_park(llm_state_t *s, llm_call_t *c)
{
    if (ring_len(&s->parked) == 0) {
        uint64_t now = rt_now_ms();
        if (s->budget_logged_ms == 0 || now - s->budget_logged_ms >= BUDGET_LOG_MS) {
            log_warn("llm", "a daily LLM budget is spent (user '%s'): LLM-bound records wait; asking again every %d s",
                     c->r->user_id, BUDGET_RECHECK_MS / 1000);
            s->budget_logged_ms = now;
        }
        s->budget_recheck_ms = now + BUDGET_RECHECK_MS;
    }
    ring_push(&s->parked, c);
    gauge_add(&g_metrics.budget_waiting, 1);
}

/* The parked records go back to the head of the queue, oldest first, to
 * ask the budget again. */
void llm_unpark(llm_state_t *s)
{
    gauge_add(&g_metrics.budget_waiting, -(int64_t)ring_len(&s->parked));
    for (size_t i = ring_len(&s->parked); i > 0; i--)
        ring_push_front(&s->queue, ring_at(&s->parked, i - 1));
    ring_clear(&s->parked);
}


void llm_check_new(llm_state_t *s)
{
    size_t done = 0;
    int cap = s->env->cfg->llm_max_inflight;
    size_t nnew = ring_len(&s->fresh);
    while (done < nnew) {
        int m = 0;
        size_t first = done;
        for (; done < nnew && m < cap; done++) {
            llm_call_t *c = ring_at(&s->fresh, done);
            s->ids[m] = (long long)c->r->event.issue_id;
            s->versions[m] = c->r->event.updated_at ? c->r->event.updated_at : "infinity";
            m++;
        }
        llm_gate_known(s->gate, s->ids, s->versions, m, s->known);
        for (int k = 0; k < m; k++) {
            llm_call_t *c = ring_at(&s->fresh, first + (size_t)k);
            if (!s->known[k] || c->r->event.updated_at == NULL) {
                if (!llm_give_up(s, c))
                    ring_push(&s->queue, c);
                continue;
            }
            record_t *r = c->r;
            llm_call_free(c);
            r->replay = true;
            metric_add(&g_metrics.llm_known_skips, 1);
            storage_send(s->env, r);
        }
    }
    ring_clear(&s->fresh);
}

/* Starts the admitted calls the budgets allow (a record asks once: its
 * repair and retries use the same grant); the others are parked, or
 * classified locally. One database call per user in the batch. */
void llm_spend(llm_state_t *s, int n)
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
                ring_push_front(&s->queue, c);   /* asked again once the database answers */
            else if (s->budget_fallback)
                llm_fall_back(s, c, &g_metrics.budget_fallbacks);
            else
                llm_park(s, c);
        }
    }
    for (int i = 0; i < n; i++) {
        if (b[i] == NULL)
            continue;
        breaker_started(&s->breaker);
        llm_start(s, b[i]);
    }
}

