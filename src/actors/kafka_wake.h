/*
 * kafka_wake.h -- librdkafka queues that wake an actor instead of being
 * polled on a timer: when a watched queue gets something, librdkafka's own
 * thread sends the actor one message (of the tag given) and no more until
 * the actor starts reading (kafka_wake_reading), so a burst costs one
 * message and nothing that arrives during a read is missed. No librdkafka
 * call is made on librdkafka's thread (it forbids them there).
 */
#ifndef DISPATCHD_KAFKA_WAKE_H
#define DISPATCHD_KAFKA_WAKE_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "runtime.h"

typedef struct kafka_wake {
    rt_actor_t *actor;
    uint32_t tag;
    int pending;                  /* atomic: a wake-up sent and not read yet */
} kafka_wake_t;

void kafka_wake_init(kafka_wake_t *w, rt_actor_t *actor, uint32_t tag);
/* Queue q wakes the actor from now on (several queues may share w). */
void kafka_wake_watch(kafka_wake_t *w, rd_kafka_queue_t *q);
/* No more wake-ups from q: before the runtime stops, or q is destroyed. */
void kafka_wake_unwatch(rd_kafka_queue_t *q);

/* At the start of a read: what arrives from now on wakes the actor again. */
static inline void kafka_wake_reading(kafka_wake_t *w)
{
    __atomic_store_n(&w->pending, 0, __ATOMIC_RELEASE);
}

#endif
