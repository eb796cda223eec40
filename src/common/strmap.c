#include "strmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Linear probing kept at most half full, and deletion by backward shift:
 * a removed entry's run is closed up instead of leaving a tombstone, so a
 * map with heavy churn (the partition-consumer's busy keys: one insert and
 * one remove per record) stays as short to probe and as small in cache as
 * its live entries allow.
 */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void strmap_init(strmap_t *m)
{
    memset(m, 0, sizeof(*m));
}

void strmap_init_borrowed(strmap_t *m)
{
    memset(m, 0, sizeof(*m));
    m->borrowed = 1;
}

void strmap_free(strmap_t *m)
{
    int borrowed = m->borrowed;
    for (size_t i = 0; i < m->cap && !borrowed; i++)
        free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof(*m));
    m->borrowed = borrowed;
}

static strmap_entry_t *find(const strmap_t *m, const char *key, size_t h)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        strmap_entry_t *e = &m->slots[i];
        if (e->key == NULL)
            return NULL;
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    }
}

static void grow(strmap_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    strmap_entry_t *old = m->slots;
    size_t ocap = m->cap;
    m->slots = calloc(ncap, sizeof(*m->slots));
    if (m->slots == NULL)
        abort();
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        strmap_entry_t *e = &old[i];
        if (e->key == NULL)
            continue;
        size_t j = e->hash & (ncap - 1);
        while (m->slots[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = *e;
    }
    free(old);
}

void *strmap_get(const strmap_t *m, const char *key)
{
    strmap_entry_t *e = find(m, key, hash_str(key));
    return e ? e->value : NULL;
}

void strmap_put(strmap_t *m, const char *key, void *value)
{
    size_t h = hash_str(key);
    strmap_entry_t *e = find(m, key, h);
    if (e) {
        e->value = value;
        return;
    }
    if ((m->count + 1) * 2 > m->cap)
        grow(m);
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key != NULL)
        i = (i + 1) & (m->cap - 1);
    m->slots[i].key = m->borrowed ? (char *)key : strdup(key);
    m->slots[i].value = value;
    m->slots[i].hash = h;
    m->count++;
}

void *strmap_remove(strmap_t *m, const char *key)
{
    strmap_entry_t *e = find(m, key, hash_str(key));
    if (e == NULL)
        return NULL;
    void *v = e->value;
    if (!m->borrowed)
        free(e->key);
    size_t mask = m->cap - 1;
    size_t hole = (size_t)(e - m->slots);
    /* Move back each later entry of the run whose home slot is not between
     * the hole and itself, so every entry stays reachable from its home. */
    for (size_t j = (hole + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        m->slots[hole] = m->slots[j];
        hole = j;
    }
    m->slots[hole].key = NULL;
    m->slots[hole].value = NULL;
    m->count--;
    return v;
}

size_t strmap_count(const strmap_t *m)
{
    return m->count;
}
