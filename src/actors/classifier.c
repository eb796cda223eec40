/*
 * classifier.c -- the classifier actor: classifies each record in-process
 * with the configured provider -- the rules or the local model
 * (microseconds per issue) -- or hands it to the LLM actor: always with
 * provider openai, and below [classifier] cascade_threshold with cascade.
 *
 * [pipeline] stages = noop finishes each record right here: the
 * consumption machinery alone, for benchmarks. In the test binary the
 * faults (faults.h) can hold each record on a timer first (a slow model)
 * or stall every record while a file exists (a stalled downstream).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "log.h"
#include "ring.h"
#include "classifier.h"
#include "llm.h"
#include "partition.h"
#include "storage.h"
#include "local.h"
#include "strmap.h"

typedef struct classifier_state {
    const actor_env_t *env;
    strmap_t cancelled;           /* sync ids whose events are skipped */
    model_t *model;               /* the local provider's, NULL for rules */
    model_vec_t scratch;
    uint64_t rng;
    bool stalled;                 /* the stall fault is on (faults.h) */
    ring_t parked;                /* records held while stalled */
} classifier_state_t;

static void classify(classifier_state_t *s, record_t *r)
{
    if (s->env->noop) {
        r->result = RESULT_OK;
        record_done(r);
        return;
    }
    if (r->replay) {
        /* Classified before a crash; storage has the result. */
        storage_send(s->env, r);
        return;
    }
    if (r->sync_id[0] && strmap_get(&s->cancelled, r->sync_id) != NULL) {
        /* Its sync was cancelled: costs nothing more. */
        r->result = RESULT_SKIPPED;
        metric_add(&g_metrics.cancelled_skips, 1);
        record_done(r);
        return;
    }
    fault_classify_audit(r->partition, r->offset, r->sync_id);
    uint64_t t0 = now_us();
    cls_input_t in = cls_input_of(&r->event);
    if (s->model != NULL) {
        classify_local(s->model, &s->scratch, &in, &r->cls);
        histogram_observe_us(&g_metrics.classify[PROVIDER_LOCAL], now_us() - t0);
    }
    if (s->env->to->llm != NULL) {
        /* cascade: the local answer when it is sure enough */
        if (s->model != NULL && r->cls.confidence >= s->env->cfg->cascade_threshold) {
            metric_add(&g_metrics.cascade_local, 1);
        } else {
            if (s->model != NULL)
                metric_add(&g_metrics.cascade_llm, 1);
            r->hdr.type = MSG_LLM_CALL;
            rt_send_force(s->env->to->llm, r);   /* storage or the DLQ from there */
            return;
        }
    } else if (s->model == NULL) {
        classify_rules(&in, &r->cls);
        histogram_observe_us(&g_metrics.classify[PROVIDER_RULES], now_us() - t0);
    }
    storage_send(s->env, r);
}

/* The stall file is looked at on a timer, never per record. */
static void check_stall(classifier_state_t *s)
{
    s->stalled = fault_stalled();
    if (s->stalled)
        return;
    record_t *r;
    while ((r = ring_pop(&s->parked)) != NULL)
        classify(s, r);
}

static void classifier_handler(rt_actor_t *self, rt_msg_t *msg)
{
    classifier_state_t *s = rt_actor_state(self);
    if (msg->type == RT_MSG_TIMER && ((rt_timer_msg_t *)msg)->arg == &s->stalled) {
        rt_msg_free(msg);
        check_stall(s);
    } else if (msg->type == RT_MSG_TIMER) {
        record_t *r = ((rt_timer_msg_t *)msg)->arg;
        rt_msg_free(msg);
        classify(s, r);
    } else if (msg->type == MSG_CLASSIFY && s->stalled) {
        ring_push(&s->parked, msg);
    } else if (msg->type == MSG_CLASSIFY) {
        record_t *r = (record_t *)msg;
        uint64_t hold = fault_hold_ms(&s->rng);
        if (hold > 0)
            rt_timer_start(self, hold, 0, r);
        else
            classify(s, r);
    } else if (msg->type == MSG_SYNC_CANCELLED) {
        sync_cancelled_msg_t *c = (sync_cancelled_msg_t *)msg;
        if (strmap_get(&s->cancelled, c->sync_id) == NULL) {
            strmap_put(&s->cancelled, c->sync_id, s);
            log_info("classifier", "sync %s cancelled: its events are skipped from now on", c->sync_id);
        }
        if (s->env->to->llm != NULL) {
            rt_send_force(s->env->to->llm, msg);   /* its waiting records; it answers */
            return;
        }
        if (msg->reply_future != NULL || msg->reply_actor != NULL)
            rt_reply(msg, rt_msg_new(sizeof(rt_msg_t), MSG_SYNC_CANCELLED));
        rt_msg_free(msg);
    } else {
        rt_msg_free(msg);
    }
}

static void classifier_finalize(rt_actor_t *self)
{
    classifier_state_t *s = rt_actor_state(self);
    record_t *r;
    while ((r = ring_pop(&s->parked)) != NULL)
        record_free(r);
    ring_free(&s->parked);
    strmap_free(&s->cancelled);
    if (s->model != NULL) {
        model_free(s->model);
        model_vec_free(&s->scratch);
    }
    free(s);
}

rt_actor_t *classifier_spawn(const actor_env_t *env, char *err, size_t errlen)
{
    const char *provider = env->cfg->classifier;
    bool cascade = strcmp(provider, "cascade") == 0;
    classifier_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    if (strcmp(provider, "local") == 0 || cascade) {
        if ((s->model = model_load(env->cfg->model_file, err, errlen)) == NULL) {
            free(s);
            return NULL;
        }
        model_vec_init(&s->scratch);
    }
    s->rng = 0x9E3779B97F4A7C15ULL;
    strmap_init(&s->cancelled);
    rt_actor_opts_t o = {.name = "classifier", .capacity = 65536, .high_watermark = 8192,
                         .low_watermark = 2048, .finalizer = classifier_finalize};
    rt_actor_t *a = rt_spawn(env->rt, classifier_handler, s, &o);
    if (fault_stall_configured()) {
        s->stalled = fault_stalled();
        rt_timer_start(a, FAULT_STALL_CHECK_MS, FAULT_STALL_CHECK_MS, &s->stalled);
    }
    return a;
}
