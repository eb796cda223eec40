/*
 * key_gate.c -- see key_gate.h.
 */
#include "key_gate.h"

#include <stdlib.h>
#include <string.h>

void key_gate_init(key_gate_t *g)
{
    memset(g, 0, sizeof(*g));
    strmap_init_borrowed(&g->keys);   /* the keys live in the queues */
}

static void release_key(key_gate_t *g, key_queue_t *q)
{
    strmap_remove(&g->keys, q->key);
    ring_clear(&q->waiting);
    q->next_free = g->free_queues;
    g->free_queues = q;
}

void key_gate_admit(key_gate_t *g, const char *key, void *item, key_queue_t **hold)
{
    *hold = NULL;
    if (key != NULL) {
        key_queue_t *q = strmap_get(&g->keys, key);
        if (q != NULL) {
            *hold = q;
            ring_push(&q->waiting, item);   /* an earlier item of this key comes first */
            return;
        }
        q = g->free_queues;
        if (q != NULL) {
            g->free_queues = q->next_free;
        } else if ((q = calloc(1, sizeof(*q))) == NULL) {
            abort();
        }
        size_t len = strnlen(key, KEY_GATE_MAX_KEY - 1);
        memcpy(q->key, key, len);
        q->key[len] = '\0';
        strmap_put(&g->keys, q->key, q);   /* this item now holds its key */
        *hold = q;
    }
    ring_push(&g->ready, item);
}

void *key_gate_next(key_gate_t *g)
{
    return ring_pop(&g->ready);
}

void key_gate_finished(key_gate_t *g, key_queue_t *hold)
{
    if (hold == NULL)
        return;
    void *next = ring_pop(&hold->waiting);
    if (next != NULL)
        ring_push(&g->ready, next);
    else
        release_key(g, hold);
}

int key_gate_abandon(key_gate_t *g, key_queue_t *hold, void (*drop)(void *item))
{
    if (hold == NULL)
        return 0;
    int n = 0;
    void *next;
    while ((next = ring_pop(&hold->waiting)) != NULL) {
        drop(next);
        n++;
    }
    release_key(g, hold);
    return n;
}

int key_gate_drop_all(key_gate_t *g, void (*drop)(void *item))
{
    int n = 0;
    void *item;
    while ((item = ring_pop(&g->ready)) != NULL) {
        drop(item);
        n++;
    }
    for (size_t i = 0; i < g->keys.cap; i++) {
        strmap_entry_t *e = &g->keys.slots[i];
        if (e->key == NULL || e->value == NULL)
            continue;
        key_queue_t *q = e->value;
        while ((item = ring_pop(&q->waiting)) != NULL) {
            drop(item);
            n++;
        }
        ring_free(&q->waiting);
        free(q);
    }
    strmap_free(&g->keys);
    strmap_init_borrowed(&g->keys);
    return n;
}

void key_gate_free(key_gate_t *g, void (*drop)(void *item))
{
    key_gate_drop_all(g, drop);
    strmap_free(&g->keys);
    ring_free(&g->ready);
    while (g->free_queues != NULL) {
        key_queue_t *q = g->free_queues;
        g->free_queues = q->next_free;
        ring_free(&q->waiting);
        free(q);
    }
}
