/*
 * runtime.h -- dispatchd's actor runtime.
 *
 * An actor is a handler, its state and a bounded mailbox. The scheduler runs
 * each actor on one thread at a time, a bounded batch of messages per
 * activation, on a fixed pool of worker threads. Actors that must block
 * (libpq, file I/O) are spawned "dedicated": they get a thread of their own
 * and the same mailbox semantics. A dedicated actor may also watch file
 * descriptors (rt_watch_fd): its thread sleeps in epoll on them and on its
 * mailbox at once, so an actor that serves sockets has no loop of its own --
 * readiness arrives as a message, like any send.
 *
 * Messages are heap blocks whose first member is rt_msg_t. The receiver owns
 * a delivered message: it frees it (rt_msg_free), forwards it or replies
 * with it. Messages made on worker threads come from those workers' pools:
 * free every message before rt_destroy().
 */
#ifndef DISPATCHD_RT_RUNTIME_H
#define DISPATCHD_RT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mpscq.h"

typedef struct rt_runtime rt_runtime_t;
typedef struct rt_actor rt_actor_t;
typedef struct rt_future rt_future_t;

/* Message types below RT_MSG_USER belong to the runtime. */
enum {
    RT_MSG_TIMER = 1,     /* rt_timer_msg_t */
    RT_MSG_PRESSURE = 2,  /* rt_pressure_msg_t */
    RT_MSG_IO = 3,        /* rt_io_msg_t */
    RT_MSG_USER = 64,
};

struct rt_pool;

typedef struct rt_msg {
    rt_mpscq_node_t node;
    uint32_t type;
    uint32_t size;
    struct rt_pool *pool;         /* owning worker's pool; NULL: malloc */
    int pool_class;
    /* Request/reply routing; zero for plain sends. */
    rt_actor_t *reply_actor;
    rt_future_t *reply_future;
    uint64_t tag;
} rt_msg_t;

typedef struct rt_timer_msg {
    rt_msg_t hdr;
    uint64_t timer_id;
    void *arg;
} rt_timer_msg_t;

/* Sent to subscribers when a watched mailbox crosses a watermark. The
 * notification only says "changed": read rt_actor_pressured() for the state,
 * since two notifications from different threads may arrive out of order. */
typedef struct rt_pressure_msg {
    rt_msg_t hdr;
    rt_actor_t *source;
    uint64_t tag;
} rt_pressure_msg_t;

/* A watched descriptor is ready: `events` as epoll reports them (EPOLLIN,
 * EPOLLOUT, EPOLLERR, EPOLLHUP). One message per readiness: the descriptor
 * is not reported again until this message has been handled. Readiness is
 * a hint (the descriptor may have been unwatched, or even reused, since it
 * was queued): handlers use non-blocking I/O. */
typedef struct rt_io_msg {
    rt_msg_t hdr;
    int fd;
    uint32_t events;
    uint64_t tag;
} rt_io_msg_t;

typedef void (*rt_handler_fn)(rt_actor_t *self, rt_msg_t *msg);
/* Called once by rt_destroy(), on the thread that calls it, after every
 * worker has stopped: it frees the actor's state and must not send. */
typedef void (*rt_finalizer_fn)(rt_actor_t *self);

typedef struct rt_actor_opts {
    const char *name;        /* for metrics and logs */
    int capacity;            /* hard bound; 0 = 4096 */
    int high_watermark;      /* 0 = capacity * 3 / 4 */
    int low_watermark;       /* 0 = capacity / 4 */
    int batch;               /* messages per activation; 0 = 64 */
    bool dedicated;          /* own thread: may block */
    rt_finalizer_fn finalizer;
} rt_actor_opts_t;

/* Lifecycle. threads <= 0 means the number of online cores. */
rt_runtime_t *rt_create(int threads);
int rt_threads(const rt_runtime_t *rt);
/* Refuses sends from non-actor threads, lets actors finish every queued
 * message, stops timers and joins every thread. */
void rt_shutdown(rt_runtime_t *rt);
void rt_destroy(rt_runtime_t *rt);

rt_actor_t *rt_spawn(rt_runtime_t *rt, rt_handler_fn handler, void *state,
                     const rt_actor_opts_t *opts);
void *rt_actor_state(const rt_actor_t *a);
const char *rt_actor_name(const rt_actor_t *a);
rt_runtime_t *rt_actor_runtime(const rt_actor_t *a);
int rt_actor_depth(const rt_actor_t *a);
bool rt_actor_pressured(const rt_actor_t *a);
/* Visit every actor (name, mailbox depth); for metrics. */
void rt_foreach_actor(rt_runtime_t *rt, void (*fn)(rt_actor_t *, void *), void *ctx);

/* Messages. */
void *rt_msg_new(size_t size, uint32_t type);
void rt_msg_free(void *msg);

/* Send results. */
enum { RT_OK = 0, RT_FULL = -1, RT_STOPPED = -2 };

/* Enqueues msg unless the mailbox is at capacity (RT_FULL) or the runtime
 * stopped taking outside work (RT_STOPPED); on failure the caller still owns
 * msg. */
int rt_send(rt_actor_t *to, void *msg);
/* Enqueues past capacity. For replies, notifications and timer fires, whose
 * number is bounded by their cause, not by the receiver. */
void rt_send_force(rt_actor_t *to, void *msg);

/* Backpressure: `subscriber` receives RT_MSG_PRESSURE with `tag` each time
 * `target`'s depth rises to its high watermark or falls to its low one. */
int rt_subscribe_pressure(rt_actor_t *target, rt_actor_t *subscriber, uint64_t tag);
void rt_unsubscribe_pressure(rt_actor_t *target, rt_actor_t *subscriber);

/* Request/reply. The request carries where to reply; the receiver answers
 * with rt_reply(request, reply), which frees nothing: the receiver still owns
 * the request. A reply always goes through (rt_send_force semantics). */
int rt_ask(rt_actor_t *to, void *request, rt_actor_t *reply_to, uint64_t tag);
void rt_reply(const rt_msg_t *request, void *reply);

/* Futures let non-actor threads ask. A waiting future blocks its (non
 * scheduler) thread; a callback future runs cb on the replier's thread, which
 * must hand the reply on quickly (e.g. to an event loop). */
typedef void (*rt_future_cb)(void *ctx, rt_msg_t *reply);
rt_future_t *rt_future_new(void);
rt_future_t *rt_future_new_cb(rt_future_cb cb, void *ctx);
int rt_ask_future(rt_actor_t *to, void *request, rt_future_t *f);
/* Returns the reply (caller owns it) or NULL on timeout; frees the future
 * only when a reply came. */
rt_msg_t *rt_future_wait(rt_future_t *f, int timeout_ms);
void rt_future_free(rt_future_t *f);

/* Timers. A fire delivers RT_MSG_TIMER (rt_timer_msg_t) to the actor.
 * period_ms == 0 makes a one-shot timer. Cancelling races with a fire already
 * queued; handlers compare timer_id when that matters. */
uint64_t rt_timer_start(rt_actor_t *a, uint64_t delay_ms, uint64_t period_ms, void *arg);
void rt_timer_cancel(rt_runtime_t *rt, uint64_t timer_id);

/* File descriptors, for dedicated actors only. The actor receives
 * RT_MSG_IO with `tag` whenever fd is ready for `events` (EPOLLIN and/or
 * EPOLLOUT; level-triggered). Call from the actor's own handler, or before
 * the first message is sent to it. rt_watch_fd on a watched fd changes its
 * events and tag. Unwatch before closing the descriptor. 0, or -1 with
 * errno (EINVAL: not a dedicated actor). */
int rt_watch_fd(rt_actor_t *a, int fd, uint32_t events, uint64_t tag);
int rt_unwatch_fd(rt_actor_t *a, int fd);

/* The actor running on this thread, or NULL on a non-actor thread. */
rt_actor_t *rt_current_actor(void);

/* Statistics, for metrics and tests. */
typedef struct rt_stats {
    uint64_t activations;
    uint64_t messages;
    uint64_t handoffs;     /* runnable actors passed to an idle worker */
    uint64_t parks;        /* times a worker went to sleep */
} rt_stats_t;
void rt_get_stats(rt_runtime_t *rt, rt_stats_t *out);

uint64_t rt_now_ms(void);
/* The absolute time timeout_ms from now on `clock`, for
 * pthread_cond_timedwait (whose condition variable runs on that clock). */
struct timespec rt_deadline(clockid_t clock, int timeout_ms);

#endif
