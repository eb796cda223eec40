/*
 * actor.c -- actors, their bounded mailboxes and watermark notifications.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "internal.h"
#include "pool.h"

void *rt_msg_new(size_t size, uint32_t type)
{
    if (size < sizeof(rt_msg_t))
        size = sizeof(rt_msg_t);
    struct rt_pool *pool = NULL;
    int cls = 0;
    rt_msg_t *m = rt_pool_alloc(size, &pool, &cls);
    if (m == NULL) {
        m = malloc(size);
        if (m == NULL)
            abort();
    }
    m->pool = pool;
    m->pool_class = cls;
    m->type = type;
    m->size = (uint32_t)size;
    m->reply_actor = NULL;
    m->reply_future = NULL;
    m->tag = 0;
    return m;
}

void rt_msg_free(void *msg)
{
    rt_msg_t *m = msg;
    if (m->pool != NULL)
        rt_pool_free(m, m->pool, m->pool_class);
    else
        free(m);
}

rt_actor_t *rt_spawn(rt_runtime_t *rt, rt_handler_fn handler, void *state,
                     const rt_actor_opts_t *opts)
{
    rt_actor_opts_t o = {0};
    if (opts != NULL)
        o = *opts;
    rt_actor_t *a = rt_calloc_lines(1, sizeof(*a));
    rt_mpscq_init(&a->mailbox);
    a->capacity = o.capacity > 0 ? o.capacity : 4096;
    a->high = o.high_watermark > 0 ? o.high_watermark : a->capacity * 3 / 4;
    a->low = o.low_watermark > 0 ? o.low_watermark : a->capacity / 4;
    if (a->high > a->capacity)
        a->high = a->capacity;
    if (a->low >= a->high)
        a->low = a->high > 0 ? a->high - 1 : 0;
    a->batch = o.batch > 0 ? o.batch : 64;
    a->handler = handler;
    a->finalizer = o.finalizer;
    a->state = state;
    snprintf(a->name, sizeof(a->name), "%s", o.name ? o.name : "actor");
    a->rt = rt;
    pthread_mutex_init(&a->sub_lock, NULL);

    if (o.dedicated) {
        rt_worker_t *w = rt_calloc_lines(1, sizeof(*w));
        rt_mpscq_init(&w->runq);
        w->rt = rt;
        w->index = -1;
        w->pool = rt_pool_create();
        w->dedicated = true;
        w->owner = a;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        rt_io_init(w);
        a->home = w;
        if (rt_worker_start(w) != 0)
            abort();
        /* Named after its actor, for top -H and perf. */
        char tname[16];
        snprintf(tname, sizeof(tname), "dd:%.12s", a->name);
        pthread_setname_np(w->thread, tname);
    }

    pthread_mutex_lock(&rt->registry_lock);
    a->registry_next = rt->registry;
    rt->registry = a;
    if (a->home != NULL) {
        a->home->next_dedicated = rt->dedicated;
        rt->dedicated = a->home;
    }
    pthread_mutex_unlock(&rt->registry_lock);
    return a;
}

void rt_actor_destroy(rt_actor_t *a)
{
    rt_msg_t *m;
    while ((m = (rt_msg_t *)rt_mpscq_pop(&a->mailbox)) != NULL)
        rt_msg_free(m);
    pthread_mutex_destroy(&a->sub_lock);
    free(a->subs);
    free(a);
}

void *rt_actor_state(const rt_actor_t *a) { return a->state; }
const char *rt_actor_name(const rt_actor_t *a) { return a->name; }
rt_runtime_t *rt_actor_runtime(const rt_actor_t *a) { return a->rt; }

int rt_actor_depth(const rt_actor_t *a)
{
    int n = rt_load_int((int *)&a->count);
    return n < 0 ? 0 : n;
}

bool rt_actor_pressured(const rt_actor_t *a)
{
    return rt_load_int((int *)&a->pressured) != 0;
}

void rt_foreach_actor(rt_runtime_t *rt, void (*fn)(rt_actor_t *, void *), void *ctx)
{
    pthread_mutex_lock(&rt->registry_lock);
    for (rt_actor_t *a = rt->registry; a != NULL; a = a->registry_next)
        fn(a, ctx);
    pthread_mutex_unlock(&rt->registry_lock);
}

static void notify_pressure(rt_actor_t *a)
{
    /* A copy, so no send happens under the lock (a subscriber's own
     * pressure would take its lock inside ours). */
    pthread_mutex_lock(&a->sub_lock);
    int n = a->nsubs;
    rt_subscriber_t *subs = n > 0 ? malloc(sizeof(subs[0]) * (size_t)n) : NULL;
    if (n > 0 && subs == NULL)
        abort();
    if (n > 0)
        memcpy(subs, a->subs, sizeof(subs[0]) * (size_t)n);
    pthread_mutex_unlock(&a->sub_lock);
    for (int i = 0; i < n; i++) {
        rt_pressure_msg_t *p = rt_msg_new(sizeof(*p), RT_MSG_PRESSURE);
        p->source = a;
        p->tag = subs[i].tag;
        rt_send_force(subs[i].actor, p);
    }
    free(subs);
}

/* Called by the activation after it handled messages and lowered count. */
void rt_actor_check_low(rt_actor_t *a, int depth)
{
    if (depth <= a->low && rt_load_int(&a->pressured) &&
        rt_cas_int(&a->pressured, 1, 0))
        notify_pressure(a);
}

static void enqueue(rt_actor_t *to, rt_msg_t *m, int prev)
{
    rt_mpscq_push(&to->mailbox, &m->node);
    if (prev == 0)
        rt_schedule(to);
    if (prev + 1 >= to->high && !rt_load_int(&to->pressured) &&
        rt_cas_int(&to->pressured, 0, 1))
        notify_pressure(to);
}

int rt_send(rt_actor_t *to, void *msg)
{
    if (rt_current_worker() == NULL && !rt_load_int(&to->rt->accepting))
        return RT_STOPPED;
    if (rt_load_int(&to->count) >= to->capacity)
        return RT_FULL;
    int prev = rt_faa_int(&to->count, 1);
    if (prev >= to->capacity) {
        /* Lost a race for the last slot. The activation tolerates a count
         * that briefly overstates the queue: it only reschedules once more. */
        rt_faa_int(&to->count, -1);
        return RT_FULL;
    }
    enqueue(to, msg, prev);
    return RT_OK;
}

void rt_send_force(rt_actor_t *to, void *msg)
{
    int prev = rt_faa_int(&to->count, 1);
    enqueue(to, msg, prev);
}

int rt_subscribe_pressure(rt_actor_t *target, rt_actor_t *subscriber, uint64_t tag)
{
    int rc = -1;
    pthread_mutex_lock(&target->sub_lock);
    for (int i = 0; i < target->nsubs; i++) {
        if (target->subs[i].actor == subscriber) {
            target->subs[i].tag = tag;
            rc = 0;
            goto out;
        }
    }
    if (target->nsubs == target->subs_cap) {
        int cap = target->subs_cap > 0 ? target->subs_cap * 2 : 16;
        rt_subscriber_t *grown = realloc(target->subs, sizeof(grown[0]) * (size_t)cap);
        if (grown == NULL)
            goto out;
        target->subs = grown;
        target->subs_cap = cap;
    }
    target->subs[target->nsubs].actor = subscriber;
    target->subs[target->nsubs].tag = tag;
    target->nsubs++;
    rc = 0;
out:
    pthread_mutex_unlock(&target->sub_lock);
    return rc;
}

void rt_unsubscribe_pressure(rt_actor_t *target, rt_actor_t *subscriber)
{
    pthread_mutex_lock(&target->sub_lock);
    for (int i = 0; i < target->nsubs; i++) {
        if (target->subs[i].actor == subscriber) {
            target->subs[i] = target->subs[--target->nsubs];
            break;
        }
    }
    pthread_mutex_unlock(&target->sub_lock);
}
