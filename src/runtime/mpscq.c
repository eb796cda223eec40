#include "mpscq.h"

#include <stddef.h>

#include "atomics.h"

void rt_mpscq_init(rt_mpscq_t *q)
{
    q->stub.next = NULL;
    q->head = &q->stub;
    q->tail = &q->stub;
}

void rt_mpscq_push(rt_mpscq_t *q, rt_mpscq_node_t *n)
{
    rt_store_ptr(&n->next, NULL);
    rt_mpscq_node_t *prev = rt_fas_ptr(&q->head, n);
    rt_store_ptr(&prev->next, n);
}

rt_mpscq_node_t *rt_mpscq_pop(rt_mpscq_t *q)
{
    rt_mpscq_node_t *tail = q->tail;
    rt_mpscq_node_t *next = rt_load_ptr(&tail->next);

    if (tail == &q->stub) {
        if (next == NULL)
            return NULL;
        q->tail = next;
        tail = next;
        next = rt_load_ptr(&tail->next);
    }
    if (next != NULL) {
        q->tail = next;
        return tail;
    }
    /* tail is the last linked node: it may be popped only if no producer is
     * between its exchange and its link, i.e. head still points at it. */
    if (tail != rt_load_ptr(&q->head))
        return NULL;
    rt_mpscq_push(q, &q->stub);
    next = rt_load_ptr(&tail->next);
    if (next != NULL) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

bool rt_mpscq_maybe_nonempty(rt_mpscq_t *q)
{
    rt_mpscq_node_t *tail = q->tail;
    return tail != &q->stub || rt_load_ptr(&tail->next) != NULL ||
           rt_load_ptr(&q->head) != &q->stub;
}
