/* internal.h -- structures shared by the runtime's own files only. */
#ifndef DISPATCHD_RT_INTERNAL_H
#define DISPATCHD_RT_INTERNAL_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

typedef struct rt_worker rt_worker_t;

typedef struct rt_subscriber {
    rt_actor_t *actor;
    uint64_t tag;
} rt_subscriber_t;

/* Layout: read-mostly fields first; the mailbox's producer and consumer ends
 * on lines of their own; the count on a third line, which senders touch on
 * every send but the activation only once per batch. Putting the count
 * beside the consumer's tail made every send and every pop fight for one
 * line. */
struct rt_actor {
    rt_mpscq_node_t sched_node;   /* link in a worker's run queue */
    int capacity, high, low, batch;
    rt_handler_fn handler;
    rt_finalizer_fn finalizer;
    void *state;
    char name[32];
    rt_runtime_t *rt;
    rt_worker_t *home;            /* a dedicated actor's own worker */
    pthread_mutex_t sub_lock;
    int nsubs, subs_cap;
    rt_subscriber_t *subs;        /* grows: one partition-consumer per partition subscribes */
    rt_actor_t *registry_next;
    rt_mpscq_t mailbox;
    /* Messages reserved (counted before their push) and not yet handled. The
     * sender that raises it from 0 schedules the actor: that single step is
     * what keeps an actor off two threads at once. */
    _Alignas(64) int count;
    int pressured;                /* 1 between high and low watermark */
    _Alignas(64) int running;     /* exclusivity guard, checked every activation */
};

struct rt_worker {
    rt_mpscq_t runq;
    rt_runtime_t *rt;
    int index;
    bool dedicated;
    int idle;                     /* looking for work */
    int sleeping;                 /* parked on cond; cleared by the waker */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    rt_stats_t stats;
    uint64_t backlog_since_ns;    /* run queue non-empty since (owner only) */
    uint64_t window_ns, window_msgs; /* handling time under a backlog */
    uint64_t msg_cost_ns;         /* per message, over the last window */
    struct rt_pool *pool;         /* messages made on this thread */
    rt_worker_t *next_dedicated;
    /* Dedicated workers only (io.c): they sleep in epoll, not on cond. */
    rt_actor_t *owner;            /* the one actor this worker runs */
    int epfd, evfd;
    pthread_mutex_t io_lock;      /* the watch table: watchers and the poll */
    struct rt_watch *watches;     /* indexed by fd */
    int nwatches;                 /* table size */
    int nwatching;                /* active watches */
};

typedef struct rt_timers rt_timers_t;

struct rt_runtime {
    int nworkers;
    rt_worker_t *workers;
    rt_worker_t *dedicated;       /* list, guarded by registry_lock */
    unsigned rr;                  /* round robin for outside threads */
    int accepting;                /* outside sends allowed */
    int stopping;                 /* workers exit when idle */
    pthread_mutex_t registry_lock;
    rt_actor_t *registry;
    rt_timers_t *timers;
};

/* Zeroed memory on a cache-line boundary, for structs with _Alignas(64)
 * members (calloc only promises 16). Freed with free(). */
static inline void *rt_calloc_lines(size_t n, size_t size)
{
    size_t bytes = (n * size + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (p == NULL)
        abort();
    memset(p, 0, bytes);
    return p;
}

/* sched.c */
void rt_schedule(rt_actor_t *a);
rt_worker_t *rt_current_worker(void);
int rt_worker_start(rt_worker_t *w);

/* timer.c */
rt_timers_t *rt_timers_create(rt_runtime_t *rt);
void rt_timers_stop(rt_timers_t *t);
void rt_timers_destroy(rt_timers_t *t);

/* io.c */
void rt_io_init(rt_worker_t *w);
void rt_io_close(rt_worker_t *w);
void rt_io_wake(rt_worker_t *w);
/* Waits up to timeout_ms (-1: until woken) and delivers ready watches. */
void rt_io_poll(rt_worker_t *w, int timeout_ms);
void rt_io_handled(rt_worker_t *w, const rt_msg_t *m);
bool rt_io_watching(rt_worker_t *w);

/* actor.c */
void rt_actor_check_low(rt_actor_t *a, int depth);
void rt_actor_destroy(rt_actor_t *a);

#endif
