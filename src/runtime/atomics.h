/*
 * atomics.h -- the handful of atomic operations the runtime needs.
 *
 * Normal builds use Concurrency Kit's ck_pr primitives. ThreadSanitizer
 * cannot see ck_pr's inline assembly or its volatile loads, so under TSan the
 * same names map to the compiler's __atomic builtins, which it instruments.
 * Both sides give the same ordering: loads are acquire, stores are release,
 * read-modify-writes are sequentially consistent.
 */
#ifndef DISPATCHD_RT_ATOMICS_H
#define DISPATCHD_RT_ATOMICS_H

#include <stdbool.h>

#if defined(__SANITIZE_THREAD__)
#define RT_ATOMICS_BUILTIN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RT_ATOMICS_BUILTIN 1
#endif
#endif

#ifdef RT_ATOMICS_BUILTIN

#define rt_load_ptr(p)        __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define rt_store_ptr(p, v)    __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define rt_fas_ptr(p, v)      __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define rt_load_int(p)        __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define rt_store_int(p, v)    __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define rt_faa_int(p, d)      __atomic_fetch_add((p), (d), __ATOMIC_SEQ_CST)
#define rt_load_u64(p)        __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define rt_faa_u64(p, d)      __atomic_fetch_add((p), (d), __ATOMIC_SEQ_CST)
/* TSan does not model fences; a locked RMW is a full barrier on x86. */
static inline void rt_fence(void)
{
    static int fence_word;
    __atomic_fetch_add(&fence_word, 0, __ATOMIC_SEQ_CST);
}
static inline bool rt_cas_int(int *p, int expect, int desired)
{
    return __atomic_compare_exchange_n(p, &expect, desired, false,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
/* On failure *expect receives the current value. */
#define rt_cas_ptr(p, expect, desired) \
    __atomic_compare_exchange_n((p), (expect), (desired), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

#else

#include <ck_pr.h>
#include <stdint.h>

#define rt_load_ptr(p)        ck_pr_load_ptr(p)
#define rt_store_ptr(p, v)    do { ck_pr_fence_store(); ck_pr_store_ptr((p), (v)); } while (0)
#define rt_fas_ptr(p, v)      ck_pr_fas_ptr((p), (v))
#define rt_load_int(p)        ck_pr_load_int(p)
#define rt_store_int(p, v)    do { ck_pr_fence_store(); ck_pr_store_int((p), (v)); } while (0)
#define rt_faa_int(p, d)      ck_pr_faa_int((p), (d))
#define rt_load_u64(p)        ck_pr_load_64(p)
#define rt_faa_u64(p, d)      ck_pr_faa_64((p), (d))
#define rt_fence()            ck_pr_fence_memory()
static inline bool rt_cas_int(int *p, int expect, int desired)
{
    return ck_pr_cas_int(p, expect, desired);
}
/* On failure *expect receives the current value. */
#define rt_cas_ptr(p, expect, desired) ck_pr_cas_ptr_value((p), *(expect), (desired), (expect))

#endif

/* Counters written by one thread and read by others (statistics): plain
 * moves on x86, but visible to TSan as atomic. */
#define rt_relaxed_load_u64(p)      __atomic_load_n((p), __ATOMIC_RELAXED)
#define rt_relaxed_add_u64(p, d)    __atomic_store_n((p), __atomic_load_n((p), __ATOMIC_RELAXED) + (d), __ATOMIC_RELAXED)

static inline void rt_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
