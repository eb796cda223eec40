/*
 * ring.h -- a growable FIFO of pointers (a ring buffer): push at either
 * end, pop from the front, look at or replace the i-th from the front.
 * Used where a queue of waiting items must keep its order cheaply: the
 * records behind a busy key, the LLM calls waiting for a slot.
 */
#ifndef DISPATCHD_RING_H
#define DISPATCHD_RING_H

#include <stddef.h>

typedef struct ring {
    void **items;
    size_t head, count, cap;
} ring_t;

/* A zeroed ring_t is an empty ring. */
void ring_free(ring_t *r);
void ring_push(ring_t *r, void *item);
void ring_push_front(ring_t *r, void *item);
/* The front item, removed; NULL when empty. */
void *ring_pop(ring_t *r);

static inline size_t ring_len(const ring_t *r) { return r->count; }
static inline void *ring_at(const ring_t *r, size_t i) { return r->items[(r->head + i) % r->cap]; }
static inline void ring_set(ring_t *r, size_t i, void *item) { r->items[(r->head + i) % r->cap] = item; }
/* Keeps the first n items (to filter in place with ring_at/ring_set). */
static inline void ring_truncate(ring_t *r, size_t n) { if (n < r->count) r->count = n; }
/* Empties the ring, keeping its memory. */
static inline void ring_clear(ring_t *r) { r->head = r->count = 0; }

#endif
