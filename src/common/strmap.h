/* strmap.h -- a string-keyed hash map (open addressing, linear probing,
 * backward-shift deletion) for
 * single-threaded use inside one actor. Keys are copied, unless the map was
 * made with strmap_init_borrowed(). */
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
    size_t cap, count;
    int borrowed;                 /* keys belong to the caller, not copied */
} strmap_t;

void strmap_init(strmap_t *m);
/* Keys are not copied: each must stay valid while its entry exists. */
void strmap_init_borrowed(strmap_t *m);
void strmap_free(strmap_t *m);
void *strmap_get(const strmap_t *m, const char *key);
/* Inserts or replaces. */
void strmap_put(strmap_t *m, const char *key, void *value);
/* Returns the removed value or NULL. */
void *strmap_remove(strmap_t *m, const char *key);
size_t strmap_count(const strmap_t *m);

#endif
