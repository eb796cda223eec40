/*
 * classifier.c -- the classifier actor. This walking skeleton runs the rule
 * classifier in-process (microseconds per issue); the local model and LLM
 * providers plug in behind the same message.
 */
#include <stdlib.h>

#include "log.h"
#include "pipeline.h"

static void classifier_handler(rt_actor_t *self, rt_msg_t *msg)
{
    pipeline_t *p = rt_actor_state(self);
    if (msg->type != MSG_CLASSIFY) {
        rt_msg_free(msg);
        return;
    }
    record_t *r = (record_t *)msg;
    uint64_t t0 = now_us();
    /* A comment event is classified from the issue and the comment. */
    cls_input_t in = {r->event.title, r->event.comment_body ? r->event.comment_body : r->event.body,
                      r->event.labels};
    classify_rules(&in, &r->cls);
    histogram_observe_us(&g_metrics.classify[PROVIDER_RULES], now_us() - t0);
    r->hdr.type = MSG_STORE;
    rt_send_force(p->storage, r);
}

rt_actor_t *classifier_spawn(pipeline_t *p)
{
    rt_actor_opts_t o = {.name = "classifier", .capacity = 65536, .high_watermark = 8192,
                         .low_watermark = 2048};
    return rt_spawn(p->rt, classifier_handler, p, &o);
}
