/* The pointer FIFO: order kept across growth and wrap-around, pushes at
 * the front, in-place filtering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ring.h"

static void test_fifo_across_growth_and_wrap(void **state)
{
    (void)state;
    ring_t r = {0};
    assert_null(ring_pop(&r));
    intptr_t next_in = 1, next_out = 1;
    /* interleave so head wraps while the ring grows several times */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < round + 3; i++)
            ring_push(&r, (void *)next_in++);
        for (int i = 0; i < round + 1; i++)
            assert_int_equal((intptr_t)ring_pop(&r), next_out++);
    }
    while (ring_len(&r) > 0)
        assert_int_equal((intptr_t)ring_pop(&r), next_out++);
    assert_int_equal(next_out, next_in);
    ring_free(&r);
}

static void test_push_front_and_filter(void **state)
{
    (void)state;
    ring_t r = {0};
    for (intptr_t i = 1; i <= 10; i++)
        ring_push(&r, (void *)i);
    ring_push_front(&r, (void *)0);
    assert_int_equal((intptr_t)ring_at(&r, 0), 0);
    /* keep the even ones, in order */
    size_t kept = 0;
    for (size_t i = 0; i < ring_len(&r); i++)
        if ((intptr_t)ring_at(&r, i) % 2 == 0)
            ring_set(&r, kept++, ring_at(&r, i));
    ring_truncate(&r, kept);
    assert_int_equal(ring_len(&r), 6);
    for (intptr_t want = 0; want <= 10; want += 2)
        assert_int_equal((intptr_t)ring_pop(&r), want);
    ring_clear(&r);
    assert_int_equal(ring_len(&r), 0);
    ring_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_across_growth_and_wrap),
        cmocka_unit_test(test_push_front_and_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
