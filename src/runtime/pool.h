/*
 * pool.h -- per-worker message allocator.
 *
 * Messages usually die on another thread than the one that made them (a
 * sender allocates, a receiver frees). With malloc that means glibc's arena
 * lock on every cross-thread free: half the instructions of a busy runtime
 * went to malloc and free. Here each worker owns size-classed free lists; a
 * block freed by its owner goes back to the local list, a block freed by
 * another thread is pushed onto the owner's lock-free remote stack, which the
 * owner takes whole (one exchange) when its local list runs dry.
 */
#ifndef DISPATCHD_RT_POOL_H
#define DISPATCHD_RT_POOL_H

#include <stddef.h>

#define RT_POOL_CLASSES 7          /* 64 B .. 4 KiB */

typedef struct rt_pool rt_pool_t;

rt_pool_t *rt_pool_create(void);
/* Frees every slab: call only when no block of the pool is in use. */
void rt_pool_destroy(rt_pool_t *p);
/* The pool of the calling thread, or NULL (then use malloc). */
rt_pool_t *rt_pool_current(void);
void rt_pool_set_current(rt_pool_t *p);

/* Returns a block of at least `size` bytes and its owner in *owner, or NULL
 * when the size is above the largest class or the thread has no pool. */
void *rt_pool_alloc(size_t size, rt_pool_t **owner, int *cls);
void rt_pool_free(void *block, rt_pool_t *owner, int cls);

#endif
