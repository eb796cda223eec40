/*
 * future.c -- request/reply between actors and from outside threads.
 */
#include <stdlib.h>
#include <time.h>

#include "internal.h"

struct rt_future {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    rt_msg_t *reply;
    rt_future_cb cb;
    void *ctx;
    bool abandoned;   /* the waiter timed out: the replier frees */
};

int rt_ask(rt_actor_t *to, void *request, rt_actor_t *reply_to, uint64_t tag)
{
    rt_msg_t *m = request;
    m->reply_actor = reply_to;
    m->reply_future = NULL;
    m->tag = tag;
    return rt_send(to, m);
}

static rt_future_t *future_alloc(rt_future_cb cb, void *ctx)
{
    rt_future_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &ca);
    pthread_condattr_destroy(&ca);
    f->cb = cb;
    f->ctx = ctx;
    return f;
}

rt_future_t *rt_future_new(void) { return future_alloc(NULL, NULL); }
rt_future_t *rt_future_new_cb(rt_future_cb cb, void *ctx) { return future_alloc(cb, ctx); }

int rt_ask_future(rt_actor_t *to, void *request, rt_future_t *f)
{
    rt_msg_t *m = request;
    m->reply_actor = NULL;
    m->reply_future = f;
    m->tag = 0;
    return rt_send(to, m);
}

void rt_future_free(rt_future_t *f)
{
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->cond);
    free(f);
}

static void complete(rt_future_t *f, rt_msg_t *reply)
{
    if (f->cb != NULL) {
        f->cb(f->ctx, reply);
        rt_future_free(f);
        return;
    }
    pthread_mutex_lock(&f->lock);
    if (f->abandoned) {
        pthread_mutex_unlock(&f->lock);
        rt_msg_free(reply);
        rt_future_free(f);
        return;
    }
    f->reply = reply;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

void rt_reply(const rt_msg_t *request, void *reply)
{
    rt_msg_t *r = reply;
    r->tag = request->tag;
    if (request->reply_actor != NULL)
        rt_send_force(request->reply_actor, r);
    else if (request->reply_future != NULL)
        complete(request->reply_future, r);
    else
        rt_msg_free(r);
}

rt_msg_t *rt_future_wait(rt_future_t *f, int timeout_ms)
{
    struct timespec ts = rt_deadline(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&f->lock);
    while (f->reply == NULL) {
        if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) != 0 && f->reply == NULL) {
            /* Timed out: whoever replies later frees the future. */
            f->abandoned = true;
            pthread_mutex_unlock(&f->lock);
            return NULL;
        }
    }
    rt_msg_t *r = f->reply;
    pthread_mutex_unlock(&f->lock);
    rt_future_free(f);
    return r;
}
