/* Parked keys: a key is parked from the moment a record of it is on its
 * way to the retry path, stays parked while any of its records is on its
 * way or not yet committed past in the retry path, and is released once
 * the path commits past its last one; a send that never happened parks
 * nothing; partitions the caller does not know yet release nothing;
 * thousands of keys released in one pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "park_set.h"

static void test_park_and_release(void **state)
{
    (void)state;
    park_set_t p;
    park_init(&p);
    assert_false(park_has(&p, "a/r:issue:1"));
    park_sending(&p, "a/r:issue:1");
    assert_true(park_has(&p, "a/r:issue:1"));
    int64_t committed[3] = {100, 100, 100};
    assert_int_equal(park_release(&p, committed, 3), 0);   /* on its way: no offset to pass yet */
    park_sent(&p, "a/r:issue:1", 1, 500);
    park_sending(&p, "a/r:issue:1");   /* a follower */
    committed[1] = 501;
    assert_int_equal(park_release(&p, committed, 3), 0);   /* the follower is on its way */
    park_sent(&p, "a/r:issue:1", 1, 520);
    assert_int_equal(park_release(&p, committed, 3), 0);   /* 520 not committed past */
    assert_true(park_has(&p, "a/r:issue:1"));
    committed[1] = 520;
    assert_int_equal(park_release(&p, committed, 3), 0);   /* committed means the next to read: 520 is not done */
    committed[1] = 521;
    assert_int_equal(park_release(&p, committed, 3), 1);
    assert_false(park_has(&p, "a/r:issue:1"));
    assert_int_equal(park_count(&p), 0);
    park_free(&p);
}

static void test_not_sent_and_unknown_partitions(void **state)
{
    (void)state;
    park_set_t p;
    park_init(&p);
    park_sending(&p, "k");
    park_sent(&p, "k", -1, -1);   /* the produce failed: nothing in the path */
    assert_false(park_has(&p, "k"));
    park_sending(&p, "k2");
    park_sent(&p, "k2", 7, 3);
    int64_t committed[2] = {1000, 1000};
    assert_int_equal(park_release(&p, committed, 2), 0);   /* partition 7 not known */
    int64_t none[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    assert_int_equal(park_release(&p, none, 8), 0);        /* nothing committed there yet */
    park_sent(&p, "unknown", 0, 1);                       /* never parked: ignored */
    assert_false(park_has(&p, "unknown"));
    park_free(&p);   /* frees what is left */
}

static void test_many(void **state)
{
    (void)state;
    park_set_t p;
    park_init(&p);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "o/r:issue:%d", i);
        park_sending(&p, key);
        park_sent(&p, key, i % 3, i);
    }
    assert_int_equal(park_count(&p), 5000);
    int64_t committed[3] = {2500, 2500, 2500};
    assert_int_equal(park_release(&p, committed, 3), 2500);   /* offsets 0..2499 */
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "o/r:issue:%d", i);
        assert_int_equal(park_has(&p, key), i >= 2500);
    }
    park_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_park_and_release),
        cmocka_unit_test(test_not_sent_and_unknown_partitions),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
