/* One-shot timers fire once, no earlier than asked and in deadline order;
 * periodic timers repeat until cancelled. */
#include <stdlib.h>
#include <unistd.h>

#include "rt_test.h"

typedef struct fired {
    int count;
    uintptr_t order[16];
    uint64_t at_ms[16];
    latch_t *latch;
} fired_t;

static void timer_handler(rt_actor_t *self, rt_msg_t *msg)
{
    fired_t *f = rt_actor_state(self);
    assert_int_equal(msg->type, RT_MSG_TIMER);
    rt_timer_msg_t *t = (rt_timer_msg_t *)msg;
    int c = __atomic_load_n(&f->count, __ATOMIC_RELAXED);
    if (c < 16) {
        f->order[c] = (uintptr_t)t->arg;
        f->at_ms[c] = rt_now_ms();
    }
    __atomic_store_n(&f->count, c + 1, __ATOMIC_RELEASE);
    if (f->latch)
        latch_count_down(f->latch);
    rt_msg_free(msg);
}

static void test_one_shot_order_and_delay(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    latch_t l;
    latch_init(&l, 3);
    fired_t f = {.latch = &l};
    rt_actor_t *a = rt_spawn(rt, timer_handler, &f, NULL);
    uint64_t t0 = rt_now_ms();
    assert_true(rt_timer_start(a, 60, 0, (void *)3) != 0);
    assert_true(rt_timer_start(a, 20, 0, (void *)1) != 0);
    assert_true(rt_timer_start(a, 40, 0, (void *)2) != 0);
    assert_true(latch_wait(&l, 5000));
    usleep(100000);   /* a one-shot must not fire again */
    rt_destroy(rt);
    assert_int_equal(f.count, 3);
    assert_int_equal(f.order[0], 1);
    assert_int_equal(f.order[1], 2);
    assert_int_equal(f.order[2], 3);
    assert_true(f.at_ms[0] >= t0 + 20);
    assert_true(f.at_ms[2] >= t0 + 60);
}

static void test_periodic_and_cancel(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    latch_t l;
    latch_init(&l, 5);
    fired_t f = {.latch = &l};
    rt_actor_t *a = rt_spawn(rt, timer_handler, &f, NULL);
    uint64_t id = rt_timer_start(a, 10, 10, (void *)7);
    assert_true(latch_wait(&l, 5000));
    rt_timer_cancel(rt, id);
    usleep(50000);   /* let a fire that was already queued land */
    int after_cancel = __atomic_load_n(&f.count, __ATOMIC_ACQUIRE);
    usleep(100000);
    int later = __atomic_load_n(&f.count, __ATOMIC_ACQUIRE);
    rt_destroy(rt);
    assert_true(after_cancel >= 5);
    assert_int_equal(later, after_cancel);
    assert_true(f.at_ms[4] - f.at_ms[0] >= 40);   /* four periods apart */
}

static void test_cancel_before_fire(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(1);
    fired_t f = {0};
    rt_actor_t *a = rt_spawn(rt, timer_handler, &f, NULL);
    uint64_t id = rt_timer_start(a, 30, 0, NULL);
    rt_timer_cancel(rt, id);
    usleep(80000);
    rt_destroy(rt);
    assert_int_equal(f.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_shot_order_and_delay),
        cmocka_unit_test(test_periodic_and_cancel),
        cmocka_unit_test(test_cancel_before_fire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
