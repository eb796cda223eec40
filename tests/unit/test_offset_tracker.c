/* The partition-consumer's commit point: never past an unfinished offset,
 * moving over the finished prefix whatever order offsets finish in, with
 * the finished ones above it in the commit metadata. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "offset_map.h"
#include "offset_tracker.h"

static void test_commit_point_waits_for_the_oldest(void **state)
{
    (void)state;
    offset_tracker_t t;
    tracker_init(&t);
    assert_int_equal(t.commit_next, -1);
    for (int64_t o = 100; o < 105; o++)
        tracker_take(&t, o);
    assert_int_equal(t.commit_next, 100);   /* nothing committed: the first taken */
    assert_true(tracker_finish(&t, 102));
    assert_true(tracker_finish(&t, 104));
    assert_false(tracker_advance(&t));      /* 100 still running */
    assert_int_equal(t.commit_next, 100);
    assert_int_equal(tracker_done_above(&t), 2);
    assert_true(tracker_finish(&t, 100));
    assert_true(tracker_advance(&t));
    assert_int_equal(t.commit_next, 101);   /* 101 still running */
    assert_true(tracker_finish(&t, 101));
    assert_true(tracker_advance(&t));
    assert_int_equal(t.commit_next, 103);
    assert_true(tracker_finish(&t, 103));
    tracker_advance(&t);
    assert_int_equal(t.commit_next, 105);
    assert_int_equal(tracker_pending(&t), 0);
    assert_int_equal(tracker_done_above(&t), 0);
    tracker_free(&t);
}

static void test_metadata_lists_finished_above(void **state)
{
    (void)state;
    offset_tracker_t t;
    tracker_init(&t);
    tracker_reset(&t, 50);                  /* committed before at 50 */
    for (int64_t o = 50; o < 60; o++)
        tracker_take(&t, o);
    assert_int_equal(t.commit_next, 50);
    tracker_finish(&t, 53);
    tracker_finish(&t, 54);
    tracker_finish(&t, 58);
    char meta[OFFSET_MAP_MAX_BYTES];
    int64_t off;
    tracker_commit(&t, &off, meta, sizeof(meta));
    assert_int_equal(off, 50);
    offset_map_t m;
    offset_map_init(&m);
    assert_int_equal(offset_map_decode(&m, off, meta), 0);
    assert_true(offset_map_contains(&m, 53));
    assert_true(offset_map_contains(&m, 54));
    assert_true(offset_map_contains(&m, 58));
    assert_false(offset_map_contains(&m, 50));
    assert_false(offset_map_contains(&m, 55));
    assert_int_equal(m.n, 2);   /* runs: 53-54 and 58 */
    offset_map_free(&m);
    tracker_free(&t);
}

/* Gaps (compacted or skipped offsets) and unknown or repeated finishes. */
static void test_gaps_and_unknown_offsets(void **state)
{
    (void)state;
    offset_tracker_t t;
    tracker_init(&t);
    int64_t taken[] = {10, 11, 15, 16, 40};
    for (size_t i = 0; i < 5; i++)
        tracker_take(&t, taken[i]);
    assert_false(tracker_finish(&t, 12));   /* never taken */
    assert_false(tracker_finish(&t, 99));
    assert_true(tracker_finish(&t, 15));
    assert_false(tracker_finish(&t, 15));   /* twice counts once */
    assert_int_equal(tracker_done_above(&t), 1);
    tracker_finish(&t, 10);
    tracker_finish(&t, 11);
    tracker_advance(&t);
    assert_int_equal(t.commit_next, 16);    /* one past 15, the gap jumped */
    tracker_finish(&t, 40);
    tracker_finish(&t, 16);
    tracker_advance(&t);
    assert_int_equal(t.commit_next, 41);
    tracker_free(&t);
}

/* Finishing in a random order over a long run, growing the ring through
 * several sizes: the commit point is always the lowest unfinished offset. */
static void test_random_order_matches_a_model(void **state)
{
    (void)state;
    enum { N = 5000, WINDOW = 700 };
    offset_tracker_t t;
    tracker_init(&t);
    static bool done[N];
    memset(done, 0, sizeof(done));
    srand(7);
    int64_t next_take = 0;
    int finished = 0;
    while (finished < N) {
        while (next_take < N && next_take - t.commit_next < WINDOW)
            tracker_take(&t, next_take++);
        int64_t pick;
        do
            pick = t.commit_next + rand() % (next_take - t.commit_next);
        while (done[pick]);
        done[pick] = true;
        finished++;
        assert_true(tracker_finish(&t, pick));
        tracker_advance(&t);
        int64_t lowest = 0;
        while (lowest < N && done[lowest])
            lowest++;
        assert_int_equal(t.commit_next, lowest);
    }
    assert_int_equal(tracker_pending(&t), 0);
    tracker_free(&t);
}

/* The runs counted as offsets finish and the commit point moves are the
 * runs of the offset map the commit would carry, in any order, with gaps
 * in the offsets taken. */
static void test_runs_match_the_map(void **state)
{
    (void)state;
    srand(11);
    for (int round = 0; round < 50; round++) {
        offset_tracker_t t;
        tracker_init(&t);
        tracker_reset(&t, 1000);
        int64_t offs[300];
        int n = 0;
        for (int64_t o = 1000; n < 300; o += (rand() % 10 == 0) ? 2 : 1)
            offs[n++] = o;
        for (int i = 0; i < n; i++)
            tracker_take(&t, offs[i]);
        for (int k = 0; k < 600; k++) {
            int i = rand() % n;
            tracker_finish(&t, offs[i]);
            if (rand() % 8 == 0)
                tracker_advance(&t);
            offset_map_t m;
            offset_map_init(&m);
            for (size_t j = 0; j < t.count; j++) {
                const pending_offset_t *p = &t.ring[(t.head + j) % t.cap];
                if (p->done)
                    offset_map_add(&m, p->offset);
            }
            assert_int_equal(tracker_done_runs(&t), (int)m.n);
            offset_map_free(&m);
        }
        tracker_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_point_waits_for_the_oldest),
        cmocka_unit_test(test_metadata_lists_finished_above),
        cmocka_unit_test(test_gaps_and_unknown_offsets),
        cmocka_unit_test(test_random_order_matches_a_model),
        cmocka_unit_test(test_runs_match_the_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
