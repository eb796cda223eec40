/* Windowed quantiles of a latency histogram: only what was observed since
 * the earlier copy counts, interpolated within its bucket; nothing
 * observed is -1; past the last bound is the last bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static void test_window(void **state)
{
    (void)state;
    histogram_t h, before, now;
    memset(&h, 0, sizeof(h));
    for (int i = 0; i < 1000; i++)
        histogram_observe_us(&h, 20000000);   /* 20 s: old, slow */
    histogram_read(&h, &before);
    assert_true(histogram_quantile_since(&h, &before, 0.5) < 0);   /* nothing since */
    for (int i = 0; i < 100; i++)
        histogram_observe_us(&h, 3000);       /* 3 ms */
    histogram_read(&h, &now);
    double p50 = histogram_quantile_since(&now, &before, 0.5), p99 = histogram_quantile_since(&now, &before, 0.99);
    assert_true(p50 > 0.001 && p50 <= 0.005);   /* within 3 ms's bucket, not 20 s */
    assert_true(p99 >= p50 && p99 <= 0.005);
    histogram_read(&h, &before);
    histogram_observe_us(&h, 3600000000ULL);  /* an hour: past the last bound */
    histogram_read(&h, &now);
    assert_true(histogram_quantile_since(&now, &before, 0.99) >= 59.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_window)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
