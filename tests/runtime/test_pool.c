/* The message pool: blocks freed on another thread come back to their owner
 * (reused, not leaked to malloc), size classes are kept apart, and sizes
 * above the largest class are refused so the caller uses malloc. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pool.h"

#define N 1000

static void *blocks[N];

static void *remote_freer(void *arg)
{
    rt_pool_t *owner = arg;
    for (int i = 0; i < N; i++)
        rt_pool_free(blocks[i], owner, 1);   /* this thread has no pool */
    return NULL;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void test_remote_frees_are_reused(void **state)
{
    (void)state;
    rt_pool_t *p = rt_pool_create();
    rt_pool_set_current(p);
    rt_pool_t *owner;
    int cls;
    for (int i = 0; i < N; i++) {
        blocks[i] = rt_pool_alloc(100, &owner, &cls);
        assert_non_null(blocks[i]);
        assert_ptr_equal(owner, p);
        assert_int_equal(cls, 1);   /* 128-byte class */
    }
    void *first[N];
    for (int i = 0; i < N; i++)
        first[i] = blocks[i];
    qsort(first, N, sizeof(void *), cmp_ptr);

    pthread_t t;
    pthread_create(&t, NULL, remote_freer, p);
    pthread_join(t, NULL);

    /* The local list still holds the slab's spare blocks; drain them, then
     * every further block must be one the other thread gave back. */
    int reused = 0;
    for (int i = 0; i < 4 * N && reused < N; i++) {
        void *b = rt_pool_alloc(100, &owner, &cls);
        if (bsearch(&b, first, N, sizeof(void *), cmp_ptr) != NULL)
            reused++;
    }
    assert_int_equal(reused, N);
    rt_pool_set_current(NULL);
    rt_pool_destroy(p);
}

static void test_classes_and_limits(void **state)
{
    (void)state;
    rt_pool_t *p = rt_pool_create();
    rt_pool_set_current(p);
    rt_pool_t *owner;
    int cls;
    assert_non_null(rt_pool_alloc(64, &owner, &cls));
    assert_int_equal(cls, 0);
    assert_non_null(rt_pool_alloc(65, &owner, &cls));
    assert_int_equal(cls, 1);
    assert_non_null(rt_pool_alloc(4096, &owner, &cls));
    assert_int_equal(cls, RT_POOL_CLASSES - 1);
    assert_null(rt_pool_alloc(4097, &owner, &cls));
    rt_pool_set_current(NULL);
    assert_null(rt_pool_alloc(64, &owner, &cls));   /* no pool on this thread */
    rt_pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_frees_are_reused),
        cmocka_unit_test(test_classes_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
