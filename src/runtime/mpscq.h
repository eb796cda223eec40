/*
 * mpscq.h -- Vyukov's intrusive multi-producer single-consumer queue.
 *
 * A push is one atomic exchange and never waits; the consumer's pop uses no
 * read-modify-write at all. Between a producer's exchange and its link store
 * the queue looks empty past that point: rt_mpscq_pop() then returns NULL
 * although the queue is not empty, and the caller must come back later
 * (rt_mpscq_maybe_nonempty() tells it so).
 */
#ifndef DISPATCHD_RT_MPSCQ_H
#define DISPATCHD_RT_MPSCQ_H

#include <stdbool.h>

typedef struct rt_mpscq_node {
    struct rt_mpscq_node *next;
} rt_mpscq_node_t;

/* Producers and the consumer write different cache lines. */
typedef struct rt_mpscq {
    _Alignas(64) rt_mpscq_node_t *head;   /* producers' end, exchanged */
    _Alignas(64) rt_mpscq_node_t *tail;   /* consumer's end */
    rt_mpscq_node_t stub;
} rt_mpscq_t;

void rt_mpscq_init(rt_mpscq_t *q);
void rt_mpscq_push(rt_mpscq_t *q, rt_mpscq_node_t *n);
rt_mpscq_node_t *rt_mpscq_pop(rt_mpscq_t *q);
bool rt_mpscq_maybe_nonempty(rt_mpscq_t *q);

#endif
