/*
 * timer.c -- one-shot and periodic timers.
 *
 * One thread sleeps on a condition variable until the earliest deadline in a
 * binary min-heap, then delivers RT_MSG_TIMER to the owning actor. Timers are
 * used for backoff, batching windows and token refills: thousands per second
 * at most, so a heap under one mutex is plenty.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "atomics.h"
#include "internal.h"

typedef struct timer_entry {
    uint64_t deadline_ms;
    uint64_t period_ms;
    uint64_t id;
    rt_actor_t *actor;
    void *arg;
} timer_entry_t;

struct rt_timers {
    rt_runtime_t *rt;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    timer_entry_t *heap;
    size_t n, cap;
    uint64_t next_id;
    /* Cancelled ids still in the heap; small, scanned linearly. */
    uint64_t *cancelled;
    size_t ncancelled, capcancelled;
    bool stop;
};

static void heap_swap(timer_entry_t *a, timer_entry_t *b)
{
    timer_entry_t t = *a;
    *a = *b;
    *b = t;
}

static void heap_push(rt_timers_t *t, timer_entry_t e)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->heap = realloc(t->heap, t->cap * sizeof(*t->heap));
        if (t->heap == NULL)
            abort();
    }
    size_t i = t->n++;
    t->heap[i] = e;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (t->heap[p].deadline_ms <= t->heap[i].deadline_ms)
            break;
        heap_swap(&t->heap[p], &t->heap[i]);
        i = p;
    }
}

static timer_entry_t heap_pop(rt_timers_t *t)
{
    timer_entry_t top = t->heap[0];
    t->heap[0] = t->heap[--t->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && t->heap[l].deadline_ms < t->heap[m].deadline_ms)
            m = l;
        if (r < t->n && t->heap[r].deadline_ms < t->heap[m].deadline_ms)
            m = r;
        if (m == i)
            break;
        heap_swap(&t->heap[m], &t->heap[i]);
        i = m;
    }
    return top;
}

static bool take_cancelled(rt_timers_t *t, uint64_t id)
{
    for (size_t i = 0; i < t->ncancelled; i++) {
        if (t->cancelled[i] == id) {
            t->cancelled[i] = t->cancelled[--t->ncancelled];
            return true;
        }
    }
    return false;
}

static void deadline_to_timespec(uint64_t ms, struct timespec *ts)
{
    /* The condition variable runs on CLOCK_MONOTONIC, like rt_now_ms(). */
    ts->tv_sec = (time_t)(ms / 1000u);
    ts->tv_nsec = (long)(ms % 1000u) * 1000000L;
}

static void *timer_main(void *arg)
{
    rt_timers_t *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        if (t->n == 0) {
            pthread_cond_wait(&t->cond, &t->lock);
            continue;
        }
        uint64_t now = rt_now_ms();
        if (t->heap[0].deadline_ms > now) {
            struct timespec ts;
            deadline_to_timespec(t->heap[0].deadline_ms, &ts);
            pthread_cond_timedwait(&t->cond, &t->lock, &ts);
            continue;
        }
        timer_entry_t e = heap_pop(t);
        if (take_cancelled(t, e.id))
            continue;
        if (e.period_ms > 0) {
            timer_entry_t again = e;
            again.deadline_ms += e.period_ms;
            if (again.deadline_ms < now)   /* fell behind: don't burst */
                again.deadline_ms = now + e.period_ms;
            heap_push(t, again);
        }
        pthread_mutex_unlock(&t->lock);
        rt_timer_msg_t *m = rt_msg_new(sizeof(*m), RT_MSG_TIMER);
        m->timer_id = e.id;
        m->arg = e.arg;
        rt_send_force(e.actor, m);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

rt_timers_t *rt_timers_create(rt_runtime_t *rt)
{
    rt_timers_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    t->rt = rt;
    t->next_id = 1;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->thread, NULL, timer_main, t) != 0)
        abort();
    return t;
}

uint64_t rt_timer_start(rt_actor_t *a, uint64_t delay_ms, uint64_t period_ms, void *arg)
{
    rt_timers_t *t = a->rt->timers;
    pthread_mutex_lock(&t->lock);
    if (t->stop) {
        pthread_mutex_unlock(&t->lock);
        return 0;
    }
    timer_entry_t e = {
        .deadline_ms = rt_now_ms() + delay_ms,
        .period_ms = period_ms,
        .id = t->next_id++,
        .actor = a,
        .arg = arg,
    };
    heap_push(t, e);
    bool earliest = t->heap[0].id == e.id;
    if (earliest)
        pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    return e.id;
}

void rt_timer_cancel(rt_runtime_t *rt, uint64_t timer_id)
{
    rt_timers_t *t = rt->timers;
    pthread_mutex_lock(&t->lock);
    bool pending = false;
    for (size_t i = 0; i < t->n; i++)
        if (t->heap[i].id == timer_id)
            pending = true;
    if (pending) {
        if (t->ncancelled == t->capcancelled) {
            t->capcancelled = t->capcancelled ? t->capcancelled * 2 : 16;
            t->cancelled = realloc(t->cancelled, t->capcancelled * sizeof(uint64_t));
            if (t->cancelled == NULL)
                abort();
        }
        t->cancelled[t->ncancelled++] = timer_id;
    }
    pthread_mutex_unlock(&t->lock);
}

void rt_timers_stop(rt_timers_t *t)
{
    pthread_mutex_lock(&t->lock);
    if (t->stop) {
        pthread_mutex_unlock(&t->lock);
        return;
    }
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
}

void rt_timers_destroy(rt_timers_t *t)
{
    rt_timers_stop(t);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    free(t->heap);
    free(t->cancelled);
    free(t);
}
