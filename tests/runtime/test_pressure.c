/* Watermarks: a subscriber hears when a mailbox rises to its high watermark
 * and again when it falls to its low one, and reads the state it implies. */
#include <stdlib.h>

#include "rt_test.h"

#define MSG_ITEM (RT_MSG_USER + 1)

typedef struct watcher {
    pthread_mutex_t lock;
    int nstates;
    bool states[16];
    uint64_t tags[16];
    latch_t *on, *off;
} watcher_t;

static void watcher_handler(rt_actor_t *self, rt_msg_t *msg)
{
    watcher_t *w = rt_actor_state(self);
    assert_int_equal(msg->type, RT_MSG_PRESSURE);
    rt_pressure_msg_t *p = (rt_pressure_msg_t *)msg;
    bool pressured = rt_actor_pressured(p->source);
    pthread_mutex_lock(&w->lock);
    if (w->nstates < 16) {
        w->states[w->nstates] = pressured;
        w->tags[w->nstates] = p->tag;
        w->nstates++;
    }
    pthread_mutex_unlock(&w->lock);
    latch_count_down(pressured ? w->on : w->off);
    rt_msg_free(msg);
}

static void test_high_then_low_watermark(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    gate_t g;
    gate_init(&g, false);
    rt_actor_opts_t so = {.name = "slow", .capacity = 100, .high_watermark = 80,
                          .low_watermark = 20, .dedicated = true};
    rt_actor_t *slow = rt_spawn(rt, gated_handler, &g, &so);

    latch_t on, off;
    latch_init(&on, 1);
    latch_init(&off, 1);
    watcher_t w = {.on = &on, .off = &off};
    pthread_mutex_init(&w.lock, NULL);
    rt_actor_t *watcher = rt_spawn(rt, watcher_handler, &w, NULL);
    assert_int_equal(rt_subscribe_pressure(slow, watcher, 42), 0);

    for (int i = 0; i < 79; i++)
        assert_int_equal(rt_send(slow, int_msg(MSG_ITEM, 0, i)), RT_OK);
    assert_false(rt_actor_pressured(slow));
    assert_false(latch_wait(&on, 50));
    assert_int_equal(rt_send(slow, int_msg(MSG_ITEM, 0, 79)), RT_OK);
    assert_true(latch_wait(&on, 5000));
    assert_true(rt_actor_pressured(slow));

    gate_open(&g);
    assert_true(latch_wait(&off, 5000));
    assert_false(rt_actor_pressured(slow));

    rt_destroy(rt);
    assert_int_equal(g.handled, 80);
    assert_int_equal(w.nstates, 2);
    assert_true(w.states[0]);
    assert_false(w.states[1]);
    assert_int_equal(w.tags[0], 42);
    assert_int_equal(w.tags[1], 42);
}

static void test_unsubscribed_hears_nothing(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(1);
    gate_t g;
    gate_init(&g, true);
    rt_actor_opts_t so = {.name = "slow", .capacity = 10, .high_watermark = 2,
                          .low_watermark = 1};
    rt_actor_t *slow = rt_spawn(rt, gated_handler, &g, &so);
    latch_t on, off;
    latch_init(&on, 1);
    latch_init(&off, 1);
    watcher_t w = {.on = &on, .off = &off};
    pthread_mutex_init(&w.lock, NULL);
    rt_actor_t *watcher = rt_spawn(rt, watcher_handler, &w, NULL);
    assert_int_equal(rt_subscribe_pressure(slow, watcher, 1), 0);
    rt_unsubscribe_pressure(slow, watcher);
    for (int i = 0; i < 200; i++)
        send_retry(slow, int_msg(MSG_ITEM, 0, i));
    rt_destroy(rt);
    assert_int_equal(w.nstates, 0);
    assert_int_equal(g.handled, 200);
}

/* As many subscribers as partitions (a partition-consumer each, up to
 * 1,024): every one hears the rise and the fall, with its own tag. */
#define MANY 200
static void test_many_subscribers_all_hear(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    gate_t g;
    gate_init(&g, false);
    rt_actor_opts_t so = {.name = "slow", .capacity = 100, .high_watermark = 10,
                          .low_watermark = 2, .dedicated = true};
    rt_actor_t *slow = rt_spawn(rt, gated_handler, &g, &so);
    latch_t on, off;
    latch_init(&on, MANY);
    latch_init(&off, MANY);
    watcher_t *w = calloc(MANY, sizeof(*w));
    for (int i = 0; i < MANY; i++) {
        w[i].on = &on;
        w[i].off = &off;
        pthread_mutex_init(&w[i].lock, NULL);
        rt_actor_t *a = rt_spawn(rt, watcher_handler, &w[i], NULL);
        assert_int_equal(rt_subscribe_pressure(slow, a, (uint64_t)i), 0);
    }
    for (int i = 0; i < 10; i++)
        assert_int_equal(rt_send(slow, int_msg(MSG_ITEM, 0, i)), RT_OK);
    assert_true(latch_wait(&on, 5000));
    gate_open(&g);
    assert_true(latch_wait(&off, 5000));
    rt_destroy(rt);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(w[i].nstates, 2);
        assert_true(w[i].states[0]);
        assert_false(w[i].states[1]);
        assert_int_equal(w[i].tags[0], (uint64_t)i);
    }
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_high_then_low_watermark),
        cmocka_unit_test(test_many_subscribers_all_hear),
        cmocka_unit_test(test_unsubscribed_hears_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
