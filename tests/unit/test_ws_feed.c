/* The broadcaster-to-loop hand-off: nothing is kept for no listener, one
 * wake-up per burst, batches taken in order, and every message reference
 * given back whichever way a batch ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ws_feed.h"

static int wakes;
static void wake(void *arg)
{
    (void)arg;
    wakes++;
}

static ws_batch_t *batch_of(ws_msg_t *m, int n)
{
    ws_batch_t *b = ws_batch_new(n);
    for (int i = 0; i < n; i++) {
        ws_msg_ref(m);
        b->ev[b->n].msg = m;
        b->ev[b->n].sync = false;
        b->n++;
    }
    return b;
}

static void test_feed(void **state)
{
    (void)state;
    ws_msg_t *m = ws_msg_new("issue_update", "2026-11-26T07:00:00.000Z", "{}");
    ws_feed_t *f = ws_feed_new();
    ws_feed_publish(f, batch_of(m, 3));          /* no listener: dropped */
    assert_int_equal(m->refs, 1);
    assert_int_equal(ws_feed_pending(f), 0);
    wakes = 0;
    ws_feed_listen(f, wake, NULL);
    ws_batch_t *first = batch_of(m, 2), *second = batch_of(m, 1);
    ws_feed_publish(f, first);
    ws_feed_publish(f, second);
    assert_int_equal(wakes, 1);                  /* one wake-up for the burst */
    assert_int_equal(ws_feed_pending(f), 2);
    assert_int_equal(m->refs, 4);
    ws_batch_t *all = ws_feed_take(f);
    assert_ptr_equal(all, first);                /* oldest first */
    assert_ptr_equal(all->next, second);
    assert_null(ws_feed_take(f));
    ws_batch_free(all);
    assert_int_equal(m->refs, 1);
    ws_feed_publish(f, batch_of(m, 2));
    assert_int_equal(wakes, 2);                  /* empty again: the next one wakes */
    ws_feed_listen(f, NULL, NULL);               /* detaching drops what is pending */
    assert_int_equal(m->refs, 1);
    ws_feed_set_clients(f, 3);
    assert_int_equal(ws_feed_clients(f), 3);
    ws_feed_free(f);
    ws_msg_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_feed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
