/*
 * ring.c -- see ring.h.
 */
#include "ring.h"

#include <stdlib.h>

void ring_free(ring_t *r)
{
    free(r->items);
    r->items = NULL;
    r->head = r->count = r->cap = 0;
}

static void grow(ring_t *r)
{
    if (r->count < r->cap)
        return;
    size_t ncap = r->cap ? r->cap * 2 : 8;
    void **n = malloc(ncap * sizeof(*n));
    if (n == NULL)
        abort();
    for (size_t i = 0; i < r->count; i++)
        n[i] = ring_at(r, i);
    free(r->items);
    r->items = n;
    r->cap = ncap;
    r->head = 0;
}

void ring_push(ring_t *r, void *item)
{
    grow(r);
    r->items[(r->head + r->count) % r->cap] = item;
    r->count++;
}

void ring_push_front(ring_t *r, void *item)
{
    grow(r);
    r->head = (r->head + r->cap - 1) % r->cap;
    r->items[r->head] = item;
    r->count++;
}

void *ring_pop(ring_t *r)
{
    if (r->count == 0)
        return NULL;
    void *item = r->items[r->head];
    r->head = (r->head + 1) % r->cap;
    r->count--;
    return item;
}
