/*
 * key_gate.h -- key ordering for the partition-consumer: an item whose key
 * has an earlier item in flight waits behind it; items of other keys go
 * on. Items become "ready" in the order they may run; the caller starts
 * ready items as its in-flight limit allows and reports each finished one.
 * Pure bookkeeping (no actors, no I/O), tested on its own
 * (tests/unit/test_key_gate.c).
 */
#ifndef DISPATCHD_KEY_GATE_H
#define DISPATCHD_KEY_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include "ring.h"
#include "strmap.h"

#define KEY_GATE_MAX_KEY 320

/* Items waiting behind the one that holds a key. */
typedef struct key_queue {
    ring_t waiting;
    char key[KEY_GATE_MAX_KEY];
    struct key_queue *next_free;
} key_queue_t;

typedef struct key_gate {
    strmap_t keys;                /* key -> key_queue_t* while the key is held */
    key_queue_t *free_queues;     /* recycled: a busy key cost a calloc and a strdup */
    ring_t ready;                 /* free to run, in order */
} key_gate_t;

void key_gate_init(key_gate_t *g);
/* Frees everything; drop(item) for each item still held. */
void key_gate_free(key_gate_t *g, void (*drop)(void *item));

/* Admits an item. With a key (NULL: no ordering), it holds the key if the
 * key is free and is ready at once, or waits behind the key's holder. The
 * handle to pass back when it finishes goes to *hold (NULL: no key). */
void key_gate_admit(key_gate_t *g, const char *key, void *item, key_queue_t **hold);
/* The next ready item, or NULL. */
void *key_gate_next(key_gate_t *g);
/* The item holding `hold` finished: the next of its key becomes ready, or
 * the key is free. */
void key_gate_finished(key_gate_t *g, key_queue_t *hold);
/* The item holding `hold` was given up: the items waiting behind it may not
 * overtake it, so they are given up too (drop(item) each) and the key is
 * free. Returns how many were dropped. */
int key_gate_abandon(key_gate_t *g, key_queue_t *hold, void (*drop)(void *item));
/* Drops every waiting and ready item (drop(item) each) and forgets every
 * key: on a revoke or reset everything starts over, and the items still in
 * flight finish under an old generation without reporting back here.
 * Returns how many were dropped. */
int key_gate_drop_all(key_gate_t *g, void (*drop)(void *item));

#endif
