/*
 * ws_feed.c -- see ws_feed.h.
 */
#include "ws_feed.h"

#include <pthread.h>
#include <stdlib.h>

struct ws_feed {
    pthread_mutex_t lock;
    ws_batch_t *head, *tail;          /* pending, under lock */
    int pending;                      /* under lock */
    void (*wake)(void *);             /* under lock */
    void *wake_arg;
    int clients;                      /* atomic */
};

ws_batch_t *ws_batch_new(int cap)
{
    ws_batch_t *b = malloc(sizeof(*b) + (size_t)cap * sizeof(b->ev[0]));
    if (b == NULL)
        abort();
    b->next = NULL;
    b->n = 0;
    b->cap = cap;
    return b;
}

void ws_batch_free(ws_batch_t *b)
{
    while (b != NULL) {
        ws_batch_t *next = b->next;
        for (int i = 0; i < b->n; i++)
            ws_msg_unref(b->ev[i].msg);
        free(b);
        b = next;
    }
}

ws_feed_t *ws_feed_new(void)
{
    ws_feed_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

void ws_feed_free(ws_feed_t *f)
{
    if (f == NULL)
        return;
    ws_batch_free(f->head);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void ws_feed_publish(ws_feed_t *f, ws_batch_t *b)
{
    pthread_mutex_lock(&f->lock);
    if (f->wake == NULL || b->n == 0) {
        pthread_mutex_unlock(&f->lock);
        ws_batch_free(b);
        return;
    }
    bool was_empty = f->head == NULL;
    if (was_empty)
        f->head = b;
    else
        f->tail->next = b;
    f->tail = b;
    f->pending++;
    /* Under the lock, so a detaching loop never sees a late wake. */
    if (was_empty)
        f->wake(f->wake_arg);
    pthread_mutex_unlock(&f->lock);
}

void ws_feed_listen(ws_feed_t *f, void (*wake)(void *), void *arg)
{
    pthread_mutex_lock(&f->lock);
    f->wake = wake;
    f->wake_arg = arg;
    ws_batch_t *drop = wake == NULL ? f->head : NULL;
    if (wake == NULL) {
        f->head = f->tail = NULL;
        f->pending = 0;
    }
    pthread_mutex_unlock(&f->lock);
    ws_batch_free(drop);
}

ws_batch_t *ws_feed_take(ws_feed_t *f)
{
    pthread_mutex_lock(&f->lock);
    ws_batch_t *all = f->head;
    f->head = f->tail = NULL;
    f->pending = 0;
    pthread_mutex_unlock(&f->lock);
    return all;
}

int ws_feed_pending(ws_feed_t *f)
{
    pthread_mutex_lock(&f->lock);
    int n = f->pending;
    pthread_mutex_unlock(&f->lock);
    return n;
}

void ws_feed_set_clients(ws_feed_t *f, int n)
{
    __atomic_store_n(&f->clients, n, __ATOMIC_RELEASE);
}

int ws_feed_clients(ws_feed_t *f)
{
    return __atomic_load_n(&f->clients, __ATOMIC_ACQUIRE);
}
