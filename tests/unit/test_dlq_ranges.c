/* Replayed DLQ ranges: normalizing sorts by partition and offset and
 * merges ranges that overlap or touch (never across partitions); lookups
 * find exactly the offsets inside, against a brute-force model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "dlq_replays.h"

static void test_normalize(void **state)
{
    (void)state;
    dlq_range_t r[] = {{1, 10, 12}, {0, 5, 5}, {1, 13, 13}, {0, 7, 9}, {1, 11, 20}, {2, 0, 0}, {0, 6, 6}};
    int n = dlq_ranges_normalize(r, 7);
    assert_int_equal(n, 3);
    assert_int_equal(r[0].partition, 0);
    assert_int_equal(r[0].first, 5);
    assert_int_equal(r[0].last, 9);   /* 5, 6, 7-9 touch */
    assert_int_equal(r[1].partition, 1);
    assert_int_equal(r[1].first, 10);
    assert_int_equal(r[1].last, 20);
    assert_int_equal(r[2].partition, 2);
    assert_int_equal(dlq_ranges_normalize(r, 0), 0);
}

static void test_contain_matches_a_model(void **state)
{
    (void)state;
    srand(3);
    for (int round = 0; round < 200; round++) {
        dlq_range_t r[40];
        int n = rand() % 40;
        for (int i = 0; i < n; i++) {
            int64_t a = rand() % 200;
            r[i] = (dlq_range_t){rand() % 3, a, a + rand() % 6};
        }
        dlq_range_t model[40];
        for (int i = 0; i < n; i++)
            model[i] = r[i];
        int m = dlq_ranges_normalize(r, n);
        for (int p = -1; p < 4; p++)
            for (int64_t o = -2; o < 210; o++) {
                bool in = false;
                for (int i = 0; i < n; i++)
                    in = in || (model[i].partition == p && model[i].first <= o && o <= model[i].last);
                assert_int_equal(dlq_ranges_contain(r, m, p, o), in);
            }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_contain_matches_a_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
