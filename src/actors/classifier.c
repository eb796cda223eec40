/*
 * classifier.c -- the classifier actor. This walking skeleton runs the rule
 * classifier in-process (microseconds per issue); the local model and LLM
 * providers plug in behind the same message.
 *
 * [pipeline] hold_ms / hold_jitter_ms make it hold each record on a timer
 * before classifying: a stand-in for a slow model in tests and benchmarks,
 * which costs no thread while it waits. [pipeline] stages = noop finishes
 * each record right there: the consumption machinery alone, for benchmarks.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pipeline.h"

typedef struct classifier_state {
    pipeline_t *p;
    uint64_t rng;
} classifier_state_t;

static void classify(classifier_state_t *s, record_t *r)
{
    if (s->p->noop) {
        r->result = RESULT_OK;
        record_done(r);
        return;
    }
    uint64_t t0 = now_us();
    /* A comment event is classified from the issue and the comment. */
    cls_input_t in = {r->event.title, r->event.comment_body ? r->event.comment_body : r->event.body,
                      r->event.labels};
    classify_rules(&in, &r->cls);
    histogram_observe_us(&g_metrics.classify[PROVIDER_RULES], now_us() - t0);
    r->hdr.type = MSG_STORE;
    rt_send_force(s->p->storage, r);
}

static uint64_t hold_ms(classifier_state_t *s)
{
    const config_t *cfg = s->p->cfg;
    if (cfg->hold_jitter_ms <= 0)
        return (uint64_t)cfg->hold_ms;
    s->rng ^= s->rng << 13;   /* xorshift64 */
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (uint64_t)cfg->hold_ms + s->rng % (uint64_t)(cfg->hold_jitter_ms + 1);
}

static void classifier_handler(rt_actor_t *self, rt_msg_t *msg)
{
    classifier_state_t *s = rt_actor_state(self);
    if (msg->type == RT_MSG_TIMER) {
        record_t *r = ((rt_timer_msg_t *)msg)->arg;
        rt_msg_free(msg);
        classify(s, r);
    } else if (msg->type == MSG_CLASSIFY) {
        record_t *r = (record_t *)msg;
        uint64_t hold = hold_ms(s);
        if (hold > 0)
            rt_timer_start(self, hold, 0, r);
        else
            classify(s, r);
    } else {
        rt_msg_free(msg);
    }
}

static void classifier_finalize(rt_actor_t *self)
{
    free(rt_actor_state(self));
}

rt_actor_t *classifier_spawn(pipeline_t *p)
{
    classifier_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->p = p;
    s->rng = 0x9E3779B97F4A7C15ULL;
    rt_actor_opts_t o = {.name = "classifier", .capacity = 65536, .high_watermark = 8192,
                         .low_watermark = 2048, .finalizer = classifier_finalize};
    return rt_spawn(p->rt, classifier_handler, s, &o);
}
