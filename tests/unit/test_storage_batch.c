/* When a storage actor writes: a full batch at once, otherwise after the
 * window the first row opened, never a second window, nothing during a
 * retry, and every row at once with a zero window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "storage_batch.h"

static void test_full_batch_writes_now(void **state)
{
    (void)state;
    batch_policy_t p = {.size = 256, .window_ms = 5};
    assert_int_equal(batch_on_arrival(&p, 256, 0, true, false), BATCH_WRITE);
    assert_int_equal(batch_on_arrival(&p, 0, 256, false, false), BATCH_WRITE);
    assert_int_equal(batch_on_arrival(&p, 300, 0, false, true), BATCH_WRITE);   /* flush() waits out the retry */
}

static void test_first_row_opens_the_window_once(void **state)
{
    (void)state;
    batch_policy_t p = {.size = 256, .window_ms = 5};
    assert_int_equal(batch_on_arrival(&p, 1, 0, false, false), BATCH_OPEN_WINDOW);
    assert_int_equal(batch_on_arrival(&p, 2, 0, true, false), BATCH_WAIT);
    assert_int_equal(batch_on_arrival(&p, 255, 0, true, false), BATCH_WAIT);
    assert_int_equal(batch_on_arrival(&p, 0, 1, false, false), BATCH_OPEN_WINDOW);   /* marks too */
}

static void test_retry_holds_everything(void **state)
{
    (void)state;
    batch_policy_t p = {.size = 256, .window_ms = 5};
    assert_int_equal(batch_on_arrival(&p, 10, 0, false, true), BATCH_WAIT);
    batch_policy_t zero = {.size = 256, .window_ms = 0};
    assert_int_equal(batch_on_arrival(&zero, 10, 0, false, true), BATCH_WAIT);
}

static void test_zero_window_writes_every_arrival(void **state)
{
    (void)state;
    batch_policy_t p = {.size = 256, .window_ms = 0};
    assert_int_equal(batch_on_arrival(&p, 1, 0, false, false), BATCH_WRITE);
    assert_int_equal(batch_on_arrival(&p, 0, 1, false, false), BATCH_WRITE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_batch_writes_now),
        cmocka_unit_test(test_first_row_opens_the_window_once),
        cmocka_unit_test(test_retry_holds_everything),
        cmocka_unit_test(test_zero_window_writes_every_arrival),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
