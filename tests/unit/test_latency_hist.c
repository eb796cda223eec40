/* The latency histogram: exact below 64 us; every quantile of a known
 * distribution within 1.6 % of the truth over six decades; the maximum
 * exact; negative values as 0, huge ones kept in range; empty gives 0. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "latency_hist.h"

static latency_hist_t h;

static void test_small_values_exact(void **state)
{
    (void)state;
    lh_init(&h);
    assert_int_equal(lh_quantile(&h, 0.5), 0);
    for (int v = 1; v <= 50; v++)
        lh_record(&h, v);
    assert_int_equal(lh_quantile(&h, 0.5), 25);
    assert_int_equal(lh_quantile(&h, 1.0), 50);
    assert_int_equal(lh_quantile(&h, 0.0), 1);
}

static void test_quantiles_within_error(void **state)
{
    (void)state;
    lh_init(&h);
    /* 1..1,000,000 us, each once: the q-quantile is q * 1e6 */
    for (int64_t v = 1; v <= 1000000; v++)
        lh_record(&h, v);
    const double qs[] = {0.001, 0.01, 0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        double want = qs[i] * 1e6, got = (double)lh_quantile(&h, qs[i]);
        assert_true(fabs(got - want) / want <= 0.016);
        assert_true(got >= want);   /* the upper edge: never under-reports */
    }
    assert_int_equal(lh_quantile(&h, 1.0), 1000000);
    assert_int_equal(h.max_us, 1000000);
    assert_int_equal(h.total, 1000000);
}

static void test_out_of_range(void **state)
{
    (void)state;
    lh_init(&h);
    lh_record(&h, -5);
    lh_record(&h, INT64_C(1) << 40);
    assert_int_equal(h.total, 2);
    assert_int_equal(lh_quantile(&h, 0.1), 0);
    assert_int_equal(lh_quantile(&h, 1.0), INT64_C(1) << 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_quantiles_within_error),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
