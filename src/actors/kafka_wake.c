/*
 * kafka_wake.c -- see kafka_wake.h.
 */
#include "kafka_wake.h"

#include <stdbool.h>

static void queue_event(rd_kafka_t *rk, void *opaque)
{
    (void)rk;
    kafka_wake_t *w = opaque;
    if (!__atomic_exchange_n(&w->pending, 1, __ATOMIC_ACQ_REL))
        rt_send_force(w->actor, rt_msg_new(sizeof(rt_msg_t), w->tag));
}

void kafka_wake_init(kafka_wake_t *w, rt_actor_t *actor, uint32_t tag)
{
    w->actor = actor;
    w->tag = tag;
    w->pending = 0;
}

void kafka_wake_watch(kafka_wake_t *w, rd_kafka_queue_t *q)
{
    rd_kafka_queue_cb_event_enable(q, queue_event, w);
}

void kafka_wake_unwatch(rd_kafka_queue_t *q)
{
    rd_kafka_queue_cb_event_enable(q, NULL, NULL);
}
