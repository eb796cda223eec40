/*
 * sched.c -- worker threads, run queues, parking and shutdown.
 *
 * Each worker owns an intrusive MPSC run queue. A worker that makes an actor
 * runnable queues it on itself, so a ping-pong pair stays on one core; a
 * worker that has more runnable actors than the one it is about to run hands
 * one to an idle peer. Outside threads queue on a sleeping worker if there is
 * one, else round robin. Idle workers spin briefly, then park on a condition
 * variable: a wake costs ~10 us, so only a sender that finds its target
 * worker asleep pays for one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "atomics.h"
#include "internal.h"
#include "pool.h"

#define SPIN_ROUNDS 2000
#define RT_SHARE_AFTER_NS 50000          /* ~5 futex wakes */
#define RT_SHARE_MIN_MSG_NS 2000         /* cheaper messages stay where they are */

static _Thread_local rt_worker_t *tl_worker;
static _Thread_local rt_actor_t *tl_actor;

rt_worker_t *rt_current_worker(void) { return tl_worker; }
rt_actor_t *rt_current_actor(void) { return tl_actor; }

uint64_t rt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct timespec rt_deadline(clockid_t clock, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void wake(rt_worker_t *w)
{
    if (w->dedicated) {
        rt_io_wake(w);
        return;
    }
    pthread_mutex_lock(&w->lock);
    rt_store_int(&w->sleeping, 0);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void push_and_wake(rt_worker_t *w, rt_actor_t *a)
{
    rt_mpscq_push(&w->runq, &a->sched_node);
    /* Pairs with the fence in going_to_sleep(): either we see it asleep, or it sees
     * the actor we just queued. */
    rt_fence();
    if (rt_load_int(&w->sleeping))
        wake(w);
}

static rt_worker_t *pick_outside(rt_runtime_t *rt)
{
    for (int i = 0; i < rt->nworkers; i++)
        if (rt_load_int(&rt->workers[i].sleeping))
            return &rt->workers[i];
    unsigned n = (unsigned)rt_faa_int((int *)&rt->rr, 1);
    return &rt->workers[n % (unsigned)rt->nworkers];
}

void rt_schedule(rt_actor_t *a)
{
    rt_worker_t *self = tl_worker;
    if (a->home != NULL)
        push_and_wake(a->home, a);
    else if (self != NULL && !self->dedicated && self->rt == a->rt)
        rt_mpscq_push(&self->runq, &a->sched_node);   /* we are awake */
    else
        push_and_wake(pick_outside(a->rt), a);
}

static rt_actor_t *pop_actor(rt_worker_t *w)
{
    rt_mpscq_node_t *n = rt_mpscq_pop(&w->runq);
    return n ? (rt_actor_t *)((char *)n - offsetof(rt_actor_t, sched_node)) : NULL;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Give one queued actor to an idle peer, when that pays: this worker has had
 * a backlog for longer than a wake-up costs, and its messages take long
 * enough to handle to be worth a move. A moved actor costs cache-line
 * transfers on every later message, and it comes back as soon as a sender
 * here wakes it; for cheap messages that is dearer than running them here
 * (measured: Savina ForkJoin, ~50 ns a message, ran 2.2x slower with 150
 * hand-offs than with 3). Returns the time it read, 0 when there is no
 * backlog, for the per-message cost average. */
static uint64_t share_surplus(rt_worker_t *w)
{
    rt_runtime_t *rt = w->rt;
    if (rt->nworkers < 2 || !rt_mpscq_maybe_nonempty(&w->runq)) {
        w->backlog_since_ns = 0;
        return 0;
    }
    uint64_t now = now_ns();
    if (w->backlog_since_ns == 0)
        w->backlog_since_ns = now;
    if (now - w->backlog_since_ns < RT_SHARE_AFTER_NS || w->msg_cost_ns < RT_SHARE_MIN_MSG_NS)
        return now;
    for (int i = 0; i < rt->nworkers; i++) {
        rt_worker_t *p = &rt->workers[i];
        if (p == w || !rt_load_int(&p->idle))
            continue;
        rt_actor_t *a = pop_actor(w);
        if (a == NULL)
            return now;
        rt_store_int(&p->idle, 0);   /* one hand-off per idle spell */
        push_and_wake(p, a);
        rt_relaxed_add_u64(&w->stats.handoffs, 1);
        w->backlog_since_ns = now;
        return now;
    }
    return now;
}

static int run_actor(rt_worker_t *w, rt_actor_t *a)
{
    if (!rt_cas_int(&a->running, 0, 1))
        abort();   /* an actor on two threads: a runtime bug, never tolerated */
    tl_actor = a;
    int n = 0;
    while (n < a->batch) {
        rt_msg_t *m = (rt_msg_t *)rt_mpscq_pop(&a->mailbox);
        if (m == NULL)
            break;
        if (m->type == RT_MSG_IO && w->dedicated)
            rt_io_handled(w, m);
        a->handler(a, m);
        n++;
    }
    tl_actor = NULL;
    rt_store_int(&a->running, 0);
    rt_relaxed_add_u64(&w->stats.activations, 1);
    rt_relaxed_add_u64(&w->stats.messages, (uint64_t)n);

    int left = rt_faa_int(&a->count, -n) - n;
    rt_actor_check_low(a, left);
    if (left > 0) {
        /* More to do (or a sender between its reservation and its push):
         * back of our own queue, so others get their turn. */
        rt_mpscq_push(&w->runq, &a->sched_node);
    }
    return n;
}

/* Says the worker is going to sleep, then looks at its run queue once
 * more: false (and awake) if work came in. Pairs with the fence in
 * push_and_wake(): either the sender sees it asleep, or it sees the work. */
static bool going_to_sleep(rt_worker_t *w)
{
    rt_store_int(&w->sleeping, 1);
    rt_fence();
    if (rt_mpscq_maybe_nonempty(&w->runq)) {
        rt_store_int(&w->sleeping, 0);
        return false;
    }
    return true;
}

/* A dedicated worker sleeps in epoll: on its eventfd (sends) and on the
 * descriptors its actor watches. */
static bool park_io(rt_worker_t *w)
{
    rt_runtime_t *rt = w->rt;
    if (!going_to_sleep(w))
        return false;
    if (rt_load_int(&rt->stopping)) {
        rt_store_int(&w->sleeping, 0);
        return true;
    }
    rt_relaxed_add_u64(&w->stats.parks, 1);
    rt_io_poll(w, -1);
    return false;
}

/* Returns true when the worker should exit. */
static bool park(rt_worker_t *w)
{
    if (w->dedicated)
        return park_io(w);
    rt_runtime_t *rt = w->rt;
    if (!going_to_sleep(w))
        return false;
    pthread_mutex_lock(&w->lock);
    if (rt_load_int(&rt->stopping)) {
        pthread_mutex_unlock(&w->lock);
        rt_store_int(&w->sleeping, 0);
        return true;
    }
    rt_relaxed_add_u64(&w->stats.parks, 1);
    while (rt_load_int(&w->sleeping))
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return false;
}

static void *worker_main(void *arg)
{
    rt_worker_t *w = arg;
    tl_worker = w;
    rt_pool_set_current(w->pool);
    for (;;) {
        rt_actor_t *a = pop_actor(w);
        if (a == NULL) {
            rt_store_int(&w->idle, 1);
            for (int i = 0; i < SPIN_ROUNDS && a == NULL; i++) {
                rt_cpu_relax();
                if (rt_mpscq_maybe_nonempty(&w->runq))
                    a = pop_actor(w);
            }
            if (a == NULL) {
                if (park(w))
                    break;
                rt_store_int(&w->idle, 0);
                continue;
            }
            rt_store_int(&w->idle, 0);
        }
        uint64_t t0 = w->dedicated ? 0 : share_surplus(w);
        int n = run_actor(w, a);
        /* A busy actor still hears its descriptors: one look per
         * activation, without waiting. */
        if (w->dedicated && rt_io_watching(w))
            rt_io_poll(w, 0);
        if (t0 != 0) {
            /* Timed only under a backlog, so ping-pong never pays for it;
             * averaged over messages, so one long activation (a producer
             * sending thousands) does not stand for the many short ones. */
            w->window_ns += now_ns() - t0;
            w->window_msgs += (uint64_t)n;
            if (w->window_msgs >= 1024) {
                w->msg_cost_ns = w->window_ns / w->window_msgs;
                w->window_ns = w->window_msgs = 0;
            }
        }
    }
    return NULL;
}

int rt_worker_start(rt_worker_t *w)
{
    return pthread_create(&w->thread, NULL, worker_main, w);
}

rt_runtime_t *rt_create(int threads)
{
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)n : 1;
    }
    rt_runtime_t *rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return NULL;
    rt->nworkers = threads;
    rt->accepting = 1;
    pthread_mutex_init(&rt->registry_lock, NULL);
    rt->workers = rt_calloc_lines((size_t)threads, sizeof(rt_worker_t));
    for (int i = 0; i < threads; i++) {
        rt_worker_t *w = &rt->workers[i];
        rt_mpscq_init(&w->runq);
        w->rt = rt;
        w->index = i;
        w->pool = rt_pool_create();
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
    }
    rt->timers = rt_timers_create(rt);
    for (int i = 0; i < threads; i++) {
        if (rt_worker_start(&rt->workers[i]) != 0)
            abort();
        char tname[16];
        snprintf(tname, sizeof(tname), "dd:worker-%d", i % 10000);
        pthread_setname_np(rt->workers[i].thread, tname);
    }
    return rt;
}

int rt_threads(const rt_runtime_t *rt) { return rt->nworkers; }

/* True when no actor has a message queued or in hand, twice in a row a
 * millisecond apart (a message in flight between two actors is counted by
 * its receiver before its sender's activation ends). */
static bool quiescent_once(rt_runtime_t *rt)
{
    bool idle = true;
    pthread_mutex_lock(&rt->registry_lock);
    for (rt_actor_t *a = rt->registry; a != NULL && idle; a = a->registry_next)
        if (rt_load_int(&a->count) > 0)
            idle = false;
    pthread_mutex_unlock(&rt->registry_lock);
    return idle;
}

static void wait_quiescent(rt_runtime_t *rt)
{
    int stable = 0;
    while (stable < 2) {
        stable = quiescent_once(rt) ? stable + 1 : 0;
        usleep(1000);
    }
}

static void stop_worker(rt_worker_t *w)
{
    if (w->dedicated) {
        rt_io_wake(w);
        return;
    }
    pthread_mutex_lock(&w->lock);
    rt_store_int(&w->sleeping, 0);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void rt_shutdown(rt_runtime_t *rt)
{
    if (rt_load_int(&rt->stopping))
        return;
    rt_store_int(&rt->accepting, 0);
    wait_quiescent(rt);
    rt_timers_stop(rt->timers);
    wait_quiescent(rt);
    rt_store_int(&rt->stopping, 1);
    rt_fence();
    for (int i = 0; i < rt->nworkers; i++)
        stop_worker(&rt->workers[i]);
    for (rt_worker_t *w = rt->dedicated; w != NULL; w = w->next_dedicated)
        stop_worker(w);
    /* A worker that was between its spin and its park re-checks stopping
     * under its lock, so one signal each is enough. */
    for (int i = 0; i < rt->nworkers; i++)
        pthread_join(rt->workers[i].thread, NULL);
    for (rt_worker_t *w = rt->dedicated; w != NULL; w = w->next_dedicated)
        pthread_join(w->thread, NULL);
}

void rt_destroy(rt_runtime_t *rt)
{
    if (rt == NULL)
        return;
    rt_shutdown(rt);
    rt_actor_t *a = rt->registry;
    while (a != NULL) {
        rt_actor_t *next = a->registry_next;
        if (a->finalizer)
            a->finalizer(a);
        rt_actor_destroy(a);
        a = next;
    }
    /* Pools go last: finalizers and mailbox clean-up above free into them. */
    rt_worker_t *w = rt->dedicated;
    while (w != NULL) {
        rt_worker_t *next = w->next_dedicated;
        rt_io_close(w);
        rt_pool_destroy(w->pool);
        free(w);
        w = next;
    }
    for (int i = 0; i < rt->nworkers; i++)
        rt_pool_destroy(rt->workers[i].pool);
    rt_timers_destroy(rt->timers);
    free(rt->workers);
    free(rt);
}

void rt_get_stats(rt_runtime_t *rt, rt_stats_t *out)
{
    *out = (rt_stats_t){0};
    for (int i = 0; i < rt->nworkers; i++) {
        rt_stats_t *s = &rt->workers[i].stats;
        out->activations += rt_relaxed_load_u64(&s->activations);
        out->messages += rt_relaxed_load_u64(&s->messages);
        out->handoffs += rt_relaxed_load_u64(&s->handoffs);
        out->parks += rt_relaxed_load_u64(&s->parks);
    }
}
