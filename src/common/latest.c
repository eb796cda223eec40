/*
 * latest.c -- see latest.h.
 */
#include "latest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct latest {
    pthread_mutex_t mu;
    latest_doc_t *doc;
    uint64_t version;             /* atomic: read without the lock */
};

latest_t *latest_new(void)
{
    latest_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        abort();
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void latest_free(latest_t *l)
{
    if (l == NULL)
        return;
    latest_release(l->doc);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

void latest_publish(latest_t *l, int status, const char *text)
{
    size_t n = strlen(text);
    latest_doc_t *d = malloc(sizeof(*d) + n + 1);
    if (d == NULL)
        abort();
    d->refs = 1;
    d->status = status;
    d->len = n;
    memcpy(d->text, text, n + 1);
    pthread_mutex_lock(&l->mu);
    latest_doc_t *old = l->doc;
    d->version = l->version + 1;
    l->doc = d;
    __atomic_store_n(&l->version, d->version, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&l->mu);
    latest_release(old);
}

latest_doc_t *latest_get(latest_t *l)
{
    pthread_mutex_lock(&l->mu);
    latest_doc_t *d = l->doc;
    if (d != NULL)
        __atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&l->mu);
    return d;
}

uint64_t latest_version(latest_t *l)
{
    return __atomic_load_n(&l->version, __ATOMIC_ACQUIRE);
}

void latest_release(latest_doc_t *d)
{
    if (d != NULL && __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(d);
}
