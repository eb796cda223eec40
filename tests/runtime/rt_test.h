/* rt_test.h -- shared by the runtime tests: a latch the main thread waits on
 * until actors report they are done. */
#ifndef DISPATCHD_RT_TEST_H
#define DISPATCHD_RT_TEST_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "runtime.h"

typedef struct latch {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int remaining;
} latch_t;

static inline void latch_init(latch_t *l, int n)
{
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->remaining = n;
}

static inline void latch_count_down(latch_t *l)
{
    pthread_mutex_lock(&l->lock);
    if (--l->remaining <= 0)
        pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* Returns true if the latch opened before timeout_ms. */
static inline bool latch_wait(latch_t *l, int timeout_ms)
{
    struct timespec ts = rt_deadline(CLOCK_REALTIME, timeout_ms);
    pthread_mutex_lock(&l->lock);
    int rc = 0;
    while (l->remaining > 0 && rc == 0)
        rc = pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    bool open = l->remaining <= 0;
    pthread_mutex_unlock(&l->lock);
    return open;
}

typedef struct int_msg {
    rt_msg_t hdr;
    int a, b;
} int_msg_t;

static inline int_msg_t *int_msg(uint32_t type, int a, int b)
{
    int_msg_t *m = rt_msg_new(sizeof(*m), type);
    m->a = a;
    m->b = b;
    return m;
}

/* An actor state that blocks each handler until the gate opens: a dedicated
 * actor built on it cannot drain, which lets tests fill its mailbox. */
typedef struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    int handled;
} gate_t;

static inline void gate_init(gate_t *g, bool open)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->open = open;
    g->handled = 0;
}

static inline void gate_open(gate_t *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static inline void gated_handler(rt_actor_t *self, rt_msg_t *msg)
{
    gate_t *g = rt_actor_state(self);
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    g->handled++;
    pthread_mutex_unlock(&g->lock);
    rt_msg_free(msg);
}

/* Send from a plain thread, waiting politely while the mailbox is full. */
static inline void send_retry(rt_actor_t *to, void *m)
{
    while (rt_send(to, m) == RT_FULL) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

#endif
