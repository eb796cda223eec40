/* The retry policy: doubling from the initial delay up to the cap, jitter
 * within half to all of the delay, a constant policy, and the attempt
 * limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"

static void test_doubles_to_the_cap(void **state)
{
    (void)state;
    backoff_policy_t p = {.initial_ms = 100, .cap_ms = 1000, .multiplier = 2};
    uint64_t want[] = {100, 200, 400, 800, 1000, 1000};
    for (int i = 0; i < 6; i++)
        assert_int_equal(backoff_delay_ms(&p, i + 1, NULL), want[i]);
    assert_int_equal(backoff_delay_ms(&p, 1000000, NULL), 1000);   /* no overflow far out */
    assert_true(backoff_may_attempt(&p, 1000000));
}

static void test_jitter_stays_within_half_to_all(void **state)
{
    (void)state;
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    bool low = false, high = false;
    for (int i = 0; i < 1000; i++) {
        uint64_t d = backoff_delay_ms(&BACKOFF_LLM, 3, &rng);   /* 2,000 ms before jitter */
        assert_true(d >= 1000 && d <= 2000);
        low |= d < 1250;
        high |= d > 1750;
    }
    assert_true(low && high);
}

static void test_constant_and_limited(void **state)
{
    (void)state;
    for (int r = 1; r <= 4; r++)
        assert_int_equal(backoff_delay_ms(&BACKOFF_REVOKE_COMMIT, r, NULL), 200);
    assert_true(backoff_may_attempt(&BACKOFF_REVOKE_COMMIT, 5));
    assert_false(backoff_may_attempt(&BACKOFF_REVOKE_COMMIT, 6));
    assert_true(backoff_may_attempt(&BACKOFF_APPLIED_READ, 2));
    assert_false(backoff_may_attempt(&BACKOFF_APPLIED_READ, 3));
}

/* An operator's values replace the delays, keep the shape. */
static void test_configured(void **state)
{
    (void)state;
    backoff_policy_t p = backoff_configured(&BACKOFF_STORAGE, 0, 2000);
    assert_int_equal(p.initial_ms, 100);
    assert_int_equal(p.cap_ms, 2000);
    assert_int_equal(p.multiplier, BACKOFF_STORAGE.multiplier);
    assert_int_equal(backoff_delay_ms(&p, 10, NULL), 2000);
    backoff_policy_t q = backoff_configured(&BACKOFF_LLM, 5000, 1000);   /* cap below initial */
    assert_int_equal(q.cap_ms, 5000);
    assert_true(q.jitter);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_doubles_to_the_cap),
                                       cmocka_unit_test(test_jitter_stays_within_half_to_all),
                                       cmocka_unit_test(test_constant_and_limited),
                                       cmocka_unit_test(test_configured)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
