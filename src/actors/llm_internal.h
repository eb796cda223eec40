/*
 * llm_internal.h -- the LLM actor's own state, shared by its files only:
 * llm.c (the actor: requests, answers, retries), llm_waiting.c (the calls
 * that wait: the queue, budget parking, known versions). Nothing outside
 * the actor includes this; others reach it through llm.h.
 */
#ifndef DISPATCHD_LLM_INTERNAL_H
#define DISPATCHD_LLM_INTERNAL_H

#include "llm.h"
#include "llm_gate.h"
#include "llm_policy.h"
#include "llm_transport.h"
#include "local.h"
#include "ring.h"
#include "strbuf.h"
#include "strmap.h"

#define BUDGET_RECHECK_MS 10000
#define BUDGET_LOG_MS 600000      /* a spent budget is logged at most this often */
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
    uint64_t first_failed_ms;     /* rt_now_ms of its first failed attempt */
    struct llm_call *prev, *next; /* the running ones, for shutdown */
} llm_call_t;

typedef struct llm_state {
    const actor_env_t *env;
    rt_actor_t *self;
    llm_transport_t *transport;
    int inflight;
    llm_call_t *running;
    ring_t queue;                 /* llm_call_t: waiting for a free slot, FIFO */
    uint64_t rng;
    bool pump_queued;             /* a MSG_LLM_PUMP to itself is on its way */
    breaker_t breaker;
    backoff_policy_t retry;       /* BACKOFF_LLM with [openai]'s values */
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
    ring_t fresh;                 /* llm_call_t: new calls, their versions not yet looked up */
    bool fresh_timer;             /* a KNOWN_WAIT_MS timer is out for them */
    ring_t parked;                /* llm_call_t: held while a budget is spent, oldest first */
    uint64_t budget_recheck_ms;
    uint64_t budget_logged_ms;
    bool budget_fallback;         /* [classifier] budget_mode = fallback */
    strmap_t cancelled;           /* syncs whose waiting records are skipped */
    uint64_t seen_generations;    /* env->status->generations_changed at the last purge */
    bool seen_stopping;
    bool cancel_pending;          /* a cancel arrived since the last purge */
} llm_state_t;

/* llm_waiting.c */
/* Whether the call must not be sent (stale, stopping, cancelled sync);
 * then it is finished here. */
bool llm_give_up(llm_state_t *s, llm_call_t *c);
void llm_purge(llm_state_t *s);
void llm_unpark(llm_state_t *s);
void llm_check_new(llm_state_t *s);
void llm_spend(llm_state_t *s, int n);

/* llm.c */
void llm_start(llm_state_t *s, llm_call_t *c);
void llm_fall_back(llm_state_t *s, llm_call_t *c, uint64_t *counter);
void llm_call_free(llm_call_t *c);

#endif
