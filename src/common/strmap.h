/* strmap.h -- a string-keyed hash map (open addressing, linear probing) for
 * single-threaded use inside one actor. Keys are copied. */
#ifndef DISPATCHD_STRMAP_H
#define DISPATCHD_STRMAP_H

#include <stddef.h>

typedef struct strmap_entry {
    char *key;
    void *value;
    size_t hash;
} strmap_entry_t;

typedef struct strmap {
    strmap_entry_t *slots;
    size_t cap, count, tombstones;
} strmap_t;

void strmap_init(strmap_t *m);
void strmap_free(strmap_t *m);
void *strmap_get(const strmap_t *m, const char *key);
/* Inserts or replaces. */
void strmap_put(strmap_t *m, const char *key, void *value);
/* Returns the removed value or NULL. */
void *strmap_remove(strmap_t *m, const char *key);
size_t strmap_count(const strmap_t *m);

#endif
