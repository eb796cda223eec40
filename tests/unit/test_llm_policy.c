/* The LLM actor's decisions, one step at a time: what an answer means, the
 * circuit breaker's states, the retry delay and the window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "llm_policy.h"

static void test_outcomes(void **state)
{
    (void)state;
    assert_int_equal(llm_outcome_of(true, 200), LLM_ANSWERED);
    assert_int_equal(llm_outcome_of(false, 0), LLM_RETRY);
    assert_int_equal(llm_outcome_of(true, 408), LLM_RETRY);
    assert_int_equal(llm_outcome_of(true, 429), LLM_RETRY);
    assert_int_equal(llm_outcome_of(true, 500), LLM_RETRY);
    assert_int_equal(llm_outcome_of(true, 503), LLM_RETRY);
    assert_int_equal(llm_outcome_of(true, 400), LLM_REFUSED);
    assert_int_equal(llm_outcome_of(true, 401), LLM_REFUSED);
    assert_int_equal(llm_outcome_of(true, 404), LLM_REFUSED);
    /* the breaker counts the endpoint's failures, not its limits */
    assert_true(llm_outcome_failed(false, 0));
    assert_true(llm_outcome_failed(true, 502));
    assert_true(llm_outcome_failed(true, 408));
    assert_false(llm_outcome_failed(true, 429));
    assert_false(llm_outcome_failed(true, 200));
    assert_false(llm_outcome_failed(true, 400));
}

static void test_breaker_opens_after_threshold(void **state)
{
    (void)state;
    breaker_t b;
    breaker_init(&b, 3, 1000);
    assert_int_equal(breaker_allow(&b, 0), -1);
    assert_false(breaker_record(&b, true, 10));
    assert_false(breaker_record(&b, true, 20));
    assert_int_equal(b.state, BREAKER_CLOSED);
    /* a success in between starts the count again */
    assert_false(breaker_record(&b, false, 25));
    assert_false(breaker_record(&b, true, 30));
    assert_false(breaker_record(&b, true, 40));
    assert_true(breaker_record(&b, true, 50));
    assert_int_equal(b.state, BREAKER_OPEN);
    assert_int_equal(breaker_allow(&b, 500), 0);
    assert_int_equal(breaker_allow(&b, 1049), 0);
    /* a late failure of a request sent before opening keeps it open, no longer */
    assert_false(breaker_record(&b, true, 900));
    assert_int_equal(b.open_until_ms, 1050);
}

static void test_breaker_half_open_probe(void **state)
{
    (void)state;
    breaker_t b;
    breaker_init(&b, 1, 1000);
    assert_true(breaker_record(&b, true, 0));
    assert_int_equal(breaker_allow(&b, 1000), 1);   /* open time over: one probe */
    assert_int_equal(b.state, BREAKER_HALF_OPEN);
    breaker_started(&b);
    assert_int_equal(breaker_allow(&b, 1001), 0);   /* only one */
    /* the probe fails: open again, for a full open time from now */
    assert_true(breaker_record(&b, true, 1200));
    assert_int_equal(b.state, BREAKER_OPEN);
    assert_int_equal(breaker_allow(&b, 2199), 0);
    assert_int_equal(breaker_allow(&b, 2200), 1);
    breaker_started(&b);
    /* the probe succeeds: closed, everything flows */
    assert_true(breaker_record(&b, false, 2300));
    assert_int_equal(b.state, BREAKER_CLOSED);
    assert_int_equal(breaker_allow(&b, 2301), -1);
    assert_int_equal(b.failures, 0);
}

static void test_retry_delay(void **state)
{
    (void)state;
    uint64_t rng = 12345;
    for (int attempt = 1; attempt <= 10; attempt++) {
        uint64_t d = llm_retry_delay_ms(&BACKOFF_LLM, attempt, 0, &rng);
        assert_true(d > 0);
        assert_true(d <= 30000);   /* the policy's cap */
    }
    /* Retry-After wins when it is longer than the backoff */
    assert_int_equal(llm_retry_delay_ms(&BACKOFF_LLM, 1, 120, &rng), 120000);
    /* an operator's values */
    backoff_policy_t quick = backoff_configured(&BACKOFF_LLM, 10, 40);
    for (int attempt = 1; attempt <= 10; attempt++) {
        uint64_t d = llm_retry_delay_ms(&quick, attempt, 0, &rng);
        assert_true(d >= 5 && d <= 40);
    }
}

static void test_window(void **state)
{
    (void)state;
    double w = 8;
    w = llm_window_limited(w);
    assert_true(w == 4);
    w = llm_window_limited(llm_window_limited(llm_window_limited(w)));
    assert_true(w == 1);   /* never below one */
    for (int i = 0; i < 20; i++)
        w = llm_window_answered(w, 8);
    assert_true(w == 8);   /* never above the maximum */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_breaker_opens_after_threshold),
        cmocka_unit_test(test_breaker_half_open_probe),
        cmocka_unit_test(test_retry_delay),
        cmocka_unit_test(test_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
