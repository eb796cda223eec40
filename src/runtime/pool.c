#include "pool.h"

#include <stdlib.h>

#include "atomics.h"

#define SLAB_BYTES (64 * 1024)

typedef struct block {
    struct block *next;
} block_t;

typedef struct slab {
    struct slab *next;
} slab_t;

struct rt_pool {
    block_t *local[RT_POOL_CLASSES];            /* owner only */
    slab_t *slabs;                              /* owner only */
    _Alignas(64) block_t *remote[RT_POOL_CLASSES]; /* pushed by others */
};

static _Thread_local rt_pool_t *tl_pool;

static size_t class_size(int cls) { return (size_t)64 << cls; }

rt_pool_t *rt_pool_create(void)
{
    rt_pool_t *p = aligned_alloc(64, (sizeof(rt_pool_t) + 63) & ~(size_t)63);
    if (p == NULL)
        abort();
    for (int i = 0; i < RT_POOL_CLASSES; i++) {
        p->local[i] = NULL;
        p->remote[i] = NULL;
    }
    p->slabs = NULL;
    return p;
}

void rt_pool_destroy(rt_pool_t *p)
{
    if (p == NULL)
        return;
    slab_t *s = p->slabs;
    while (s != NULL) {
        slab_t *next = s->next;
        free(s);
        s = next;
    }
    free(p);
}

rt_pool_t *rt_pool_current(void) { return tl_pool; }
void rt_pool_set_current(rt_pool_t *p) { tl_pool = p; }

static void refill(rt_pool_t *p, int cls)
{
    /* Blocks others gave back first: one exchange takes them all, so the
     * classic ABA problem of a popping stack never arises. */
    block_t *got = rt_fas_ptr(&p->remote[cls], NULL);
    if (got != NULL) {
        p->local[cls] = got;
        return;
    }
    size_t bsize = class_size(cls);
    /* The slab header takes the first block's place, keeping 64-byte
     * alignment for the rest. */
    size_t nblocks = SLAB_BYTES / bsize;
    if (nblocks < 4)
        nblocks = 4;
    char *mem = aligned_alloc(64, bsize * (nblocks + 1));
    if (mem == NULL)
        abort();
    slab_t *s = (slab_t *)mem;
    s->next = p->slabs;
    p->slabs = s;
    block_t *head = NULL;
    for (size_t i = nblocks; i >= 1; i--) {
        block_t *b = (block_t *)(mem + i * bsize);
        b->next = head;
        head = b;
    }
    p->local[cls] = head;
}

void *rt_pool_alloc(size_t size, rt_pool_t **owner, int *cls)
{
    rt_pool_t *p = tl_pool;
    if (p == NULL || size > class_size(RT_POOL_CLASSES - 1))
        return NULL;
    int c = 0;
    while (class_size(c) < size)
        c++;
    if (p->local[c] == NULL)
        refill(p, c);
    block_t *b = p->local[c];
    p->local[c] = b->next;
    *owner = p;
    *cls = c;
    return b;
}

void rt_pool_free(void *block, rt_pool_t *owner, int cls)
{
    block_t *b = block;
    if (owner == tl_pool) {
        b->next = owner->local[cls];
        owner->local[cls] = b;
        return;
    }
    block_t *head = rt_load_ptr(&owner->remote[cls]);
    do {
        b->next = head;
    } while (!rt_cas_ptr(&owner->remote[cls], &head, b));
}
