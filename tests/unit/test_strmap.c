/* strmap: insert, replace, remove (backward shift), growth, and random
 * churn checked against a plain array. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "strmap.h"

static void test_put_get_remove(void **state)
{
    (void)state;
    strmap_t m;
    strmap_init(&m);
    char key[32];
    for (intptr_t i = 1; i <= 5000; i++) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        strmap_put(&m, key, (void *)i);
    }
    assert_int_equal(strmap_count(&m), 5000);
    for (intptr_t i = 1; i <= 5000; i += 2) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        assert_ptr_equal(strmap_remove(&m, key), (void *)i);
    }
    assert_int_equal(strmap_count(&m), 2500);
    for (intptr_t i = 1; i <= 5000; i++) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        assert_ptr_equal(strmap_get(&m, key), i % 2 ? NULL : (void *)i);
    }
    strmap_put(&m, "k2", (void *)7);
    assert_ptr_equal(strmap_get(&m, "k2"), (void *)7);
    assert_null(strmap_remove(&m, "absent"));
    strmap_free(&m);
}

/* Insert/remove churn on a small key set, as the partition-consumer's key
 * map sees it: every key's presence checked against a reference after each
 * step, so a run broken by a removal (an entry no longer reachable from its
 * home slot, also across the table's wrap-around) fails here. */
static void test_churn_matches_reference(void **state)
{
    (void)state;
    enum { KEYS = 300, STEPS = 20000 };
    strmap_t m;
    strmap_init(&m);
    intptr_t present[KEYS] = {0};
    size_t count = 0;
    uint64_t rng = 88172645463325252ULL;
    char key[32];
    for (int step = 0; step < STEPS; step++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int k = (int)(rng % KEYS);
        snprintf(key, sizeof(key), "repo/%d:issues:%d", k % 7, k);
        if (present[k]) {
            assert_ptr_equal(strmap_remove(&m, key), (void *)present[k]);
            present[k] = 0;
            count--;
        } else {
            present[k] = step + 1;
            strmap_put(&m, key, (void *)present[k]);
            count++;
        }
        assert_int_equal(strmap_count(&m), count);
        if (step % 97 == 0)
            for (int j = 0; j < KEYS; j++) {
                snprintf(key, sizeof(key), "repo/%d:issues:%d", j % 7, j);
                assert_ptr_equal(strmap_get(&m, key), (void *)present[j]);
            }
    }
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_put_get_remove),
                                       cmocka_unit_test(test_churn_matches_reference)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
