/*
 * park_set.c -- see park_set.h.
 */
#include "park_set.h"

#include <stdlib.h>

typedef struct parked {
    int sending;                  /* records on their way, not acknowledged yet */
    int32_t partition;            /* where the last acknowledged one is (-1: none yet) */
    int64_t offset;
} parked_t;

void park_init(park_set_t *p)
{
    strmap_init(&p->keys);
}

void park_free(park_set_t *p)
{
    for (size_t i = 0; i < p->keys.cap; i++)
        if (p->keys.slots[i].key != NULL)
            free(p->keys.slots[i].value);
    strmap_free(&p->keys);
}

void park_sending(park_set_t *p, const char *key)
{
    parked_t *k = strmap_get(&p->keys, key);
    if (k == NULL) {
        k = malloc(sizeof(*k));
        if (k == NULL)
            abort();
        *k = (parked_t){0, -1, -1};
        strmap_put(&p->keys, key, k);
    }
    k->sending++;
}

void park_sent(park_set_t *p, const char *key, int32_t partition, int64_t offset)
{
    parked_t *k = strmap_get(&p->keys, key);
    if (k == NULL)
        return;
    if (k->sending > 0)
        k->sending--;
    /* A key's records all go to one retry partition (by key); the last
     * acknowledged is the one to be committed past. */
    if (partition >= 0 && offset > k->offset) {
        k->partition = partition;
        k->offset = offset;
    }
    if (k->sending == 0 && k->partition < 0)
        free(strmap_remove(&p->keys, key));   /* nothing reached the path */
}

bool park_has(const park_set_t *p, const char *key)
{
    return strmap_get(&p->keys, key) != NULL;
}

size_t park_count(const park_set_t *p)
{
    return strmap_count(&p->keys);
}

size_t park_release(park_set_t *p, const int64_t *committed, int n)
{
    size_t cap = p->keys.cap, nfree = 0;
    char **gone = calloc(cap ? cap : 1, sizeof(*gone));
    if (gone == NULL)
        abort();
    /* Collected first: removing shifts entries under a running scan (the
     * key strings stay where they are until their own removal). */
    for (size_t i = 0; i < cap; i++) {
        const strmap_entry_t *e = &p->keys.slots[i];
        if (e->key == NULL)
            continue;
        const parked_t *k = e->value;
        if (k->sending == 0 && k->partition >= 0 && k->partition < n && committed[k->partition] > k->offset)
            gone[nfree++] = e->key;
    }
    for (size_t i = 0; i < nfree; i++)
        free(strmap_remove(&p->keys, gone[i]));
    free(gone);
    return nfree;
}
