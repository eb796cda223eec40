/* Key ordering: an item waits while an earlier item of its key is in
 * flight, other keys go on, and abandoning a holder drops what waits
 * behind it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "key_gate.h"

typedef struct item {
    int id;
    const char *key;
    key_queue_t *hold;
} item_t;

static int dropped;
static void drop(void *item)
{
    (void)item;
    dropped++;
}

static void test_same_key_waits_other_keys_run(void **state)
{
    (void)state;
    key_gate_t g;
    key_gate_init(&g);
    item_t it[] = {{1, "a", NULL}, {2, "b", NULL}, {3, "a", NULL}, {4, "a", NULL}, {5, "c", NULL}};
    for (int i = 0; i < 5; i++)
        key_gate_admit(&g, it[i].key, &it[i], &it[i].hold);
    /* ready now: 1 (a), 2 (b), 5 (c) -- 3 and 4 wait behind 1 */
    assert_ptr_equal(key_gate_next(&g), &it[0]);
    assert_ptr_equal(key_gate_next(&g), &it[1]);
    assert_ptr_equal(key_gate_next(&g), &it[4]);
    assert_null(key_gate_next(&g));
    key_gate_finished(&g, it[1].hold);        /* b done: frees nothing for a */
    assert_null(key_gate_next(&g));
    key_gate_finished(&g, it[0].hold);        /* a's first done: 3 is next, not 4 */
    assert_ptr_equal(key_gate_next(&g), &it[2]);
    assert_null(key_gate_next(&g));
    key_gate_finished(&g, it[2].hold);
    assert_ptr_equal(key_gate_next(&g), &it[3]);
    key_gate_finished(&g, it[3].hold);
    key_gate_finished(&g, it[4].hold);
    /* every key free again: a new "a" runs at once */
    item_t again = {6, "a", NULL};
    key_gate_admit(&g, again.key, &again, &again.hold);
    assert_ptr_equal(key_gate_next(&g), &again);
    key_gate_finished(&g, again.hold);
    dropped = 0;
    key_gate_free(&g, drop);
    assert_int_equal(dropped, 0);
}

static void test_no_key_means_no_order(void **state)
{
    (void)state;
    key_gate_t g;
    key_gate_init(&g);
    item_t it[3] = {{1, NULL, NULL}, {2, NULL, NULL}, {3, NULL, NULL}};
    for (int i = 0; i < 3; i++) {
        key_gate_admit(&g, NULL, &it[i], &it[i].hold);
        assert_null(it[i].hold);
    }
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(key_gate_next(&g), &it[i]);
    key_gate_free(&g, drop);
}

static void test_abandon_drops_the_waiters(void **state)
{
    (void)state;
    key_gate_t g;
    key_gate_init(&g);
    item_t it[] = {{1, "k", NULL}, {2, "k", NULL}, {3, "k", NULL}, {4, "j", NULL}};
    for (int i = 0; i < 4; i++)
        key_gate_admit(&g, it[i].key, &it[i], &it[i].hold);
    assert_ptr_equal(key_gate_next(&g), &it[0]);
    assert_ptr_equal(key_gate_next(&g), &it[3]);
    dropped = 0;
    /* 1 given up: 2 and 3 may not overtake it */
    assert_int_equal(key_gate_abandon(&g, it[0].hold, drop), 2);
    assert_int_equal(dropped, 2);
    assert_null(key_gate_next(&g));
    item_t later = {5, "k", NULL};   /* the key is free again */
    key_gate_admit(&g, later.key, &later, &later.hold);
    assert_ptr_equal(key_gate_next(&g), &later);
    key_gate_finished(&g, later.hold);
    key_gate_finished(&g, it[3].hold);
    key_gate_free(&g, drop);
}

static void test_drop_all_starts_over(void **state)
{
    (void)state;
    key_gate_t g;
    key_gate_init(&g);
    item_t it[200];
    char keys[10][4];
    for (int i = 0; i < 10; i++) {
        keys[i][0] = 'k';
        keys[i][1] = (char)('0' + i);
        keys[i][2] = '\0';
    }
    for (int i = 0; i < 200; i++) {
        it[i] = (item_t){i, keys[i % 10], NULL};
        key_gate_admit(&g, it[i].key, &it[i], &it[i].hold);
    }
    /* ten holders ready, 190 waiting */
    for (int i = 0; i < 5; i++)
        assert_non_null(key_gate_next(&g));   /* five started */
    dropped = 0;
    assert_int_equal(key_gate_drop_all(&g, drop), 195);   /* 5 ready + 190 waiting */
    assert_int_equal(dropped, 195);
    assert_null(key_gate_next(&g));
    /* keys held by the five in flight are forgotten: a new item runs */
    item_t fresh = {999, "k0", NULL};
    key_gate_admit(&g, fresh.key, &fresh, &fresh.hold);
    assert_ptr_equal(key_gate_next(&g), &fresh);
    key_gate_free(&g, drop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_key_waits_other_keys_run),
        cmocka_unit_test(test_no_key_means_no_order),
        cmocka_unit_test(test_abandon_drops_the_waiters),
        cmocka_unit_test(test_drop_all_starts_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
