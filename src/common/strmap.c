#include "strmap.h"

#include <stdlib.h>
#include <string.h>

static char TOMBSTONE[1];

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
        if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
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
        if (e->key != TOMBSTONE && e->hash == h && strcmp(e->key, key) == 0)
            return e;
    }
}

static void grow(strmap_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    if (m->count * 4 < m->cap)   /* mostly tombstones: rehash at same size */
        ncap = m->cap;
    strmap_entry_t *old = m->slots;
    size_t ocap = m->cap;
    m->slots = calloc(ncap, sizeof(*m->slots));
    if (m->slots == NULL)
        abort();
    m->cap = ncap;
    m->count = m->tombstones = 0;
    for (size_t i = 0; i < ocap; i++) {
        strmap_entry_t *e = &old[i];
        if (e->key == NULL || e->key == TOMBSTONE)
            continue;
        size_t j = e->hash & (ncap - 1);
        while (m->slots[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = *e;
        m->count++;
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
    if ((m->count + m->tombstones + 1) * 4 >= m->cap * 3)
        grow(m);
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & (m->cap - 1);
    if (m->slots[i].key == TOMBSTONE)
        m->tombstones--;
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
    e->key = TOMBSTONE;
    e->value = NULL;
    m->count--;
    m->tombstones++;
    return v;
}

size_t strmap_count(const strmap_t *m)
{
    return m->count;
}
