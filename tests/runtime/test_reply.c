/* Request/reply: actor to actor with tags, from a plain thread through a
 * waiting future, and through a callback future (the HTTP plane's way). */
#include <stdlib.h>

#include "rt_test.h"

#define MSG_SQUARE (RT_MSG_USER + 1)
#define MSG_ANSWER (RT_MSG_USER + 2)
#define MSG_START (RT_MSG_USER + 3)

static void squarer(rt_actor_t *self, rt_msg_t *msg)
{
    (void)self;
    int_msg_t *q = (int_msg_t *)msg;
    rt_reply(msg, int_msg(MSG_ANSWER, q->a * q->a, 0));
    rt_msg_free(msg);
}

typedef struct asker {
    rt_actor_t *squarer;
    long sum;
    int answers;
    uint64_t tag_sum;
    latch_t done;
} asker_t;

static void asker_handler(rt_actor_t *self, rt_msg_t *msg)
{
    asker_t *s = rt_actor_state(self);
    if (msg->type == MSG_START) {
        for (int i = 1; i <= 100; i++)
            assert_int_equal(rt_ask(s->squarer, int_msg(MSG_SQUARE, i, 0), self, (uint64_t)i), RT_OK);
    } else {
        int_msg_t *a = (int_msg_t *)msg;
        s->sum += a->a;
        s->tag_sum += msg->tag;
        if (++s->answers == 100)
            latch_count_down(&s->done);
    }
    rt_msg_free(msg);
}

static void test_actor_to_actor(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    rt_actor_t *sq = rt_spawn(rt, squarer, NULL, NULL);
    asker_t s = {.squarer = sq};
    latch_init(&s.done, 1);
    rt_actor_t *asker = rt_spawn(rt, asker_handler, &s, NULL);
    assert_int_equal(rt_send(asker, rt_msg_new(sizeof(rt_msg_t), MSG_START)), RT_OK);
    assert_true(latch_wait(&s.done, 5000));
    rt_destroy(rt);
    assert_int_equal(s.sum, 338350);      /* sum of i^2, i = 1..100 */
    assert_int_equal(s.tag_sum, 5050);    /* every reply kept its tag */
}

static void test_future_from_plain_thread(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    rt_actor_t *sq = rt_spawn(rt, squarer, NULL, NULL);
    for (int i = 0; i < 50; i++) {
        rt_future_t *f = rt_future_new();
        assert_int_equal(rt_ask_future(sq, int_msg(MSG_SQUARE, i, 0), f), RT_OK);
        int_msg_t *r = (int_msg_t *)rt_future_wait(f, 5000);
        assert_non_null(r);
        assert_int_equal(r->a, i * i);
        rt_msg_free(r);
    }
    rt_destroy(rt);
}

typedef struct cb_ctx {
    int value;
    latch_t done;
} cb_ctx_t;

static void on_reply(void *ctx, rt_msg_t *reply)
{
    cb_ctx_t *c = ctx;
    c->value = ((int_msg_t *)reply)->a;
    rt_msg_free(reply);
    latch_count_down(&c->done);
}

static void test_callback_future(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    rt_actor_t *sq = rt_spawn(rt, squarer, NULL, NULL);
    cb_ctx_t c = {0};
    latch_init(&c.done, 1);
    rt_future_t *f = rt_future_new_cb(on_reply, &c);
    assert_int_equal(rt_ask_future(sq, int_msg(MSG_SQUARE, 12, 0), f), RT_OK);
    assert_true(latch_wait(&c.done, 5000));
    rt_destroy(rt);
    assert_int_equal(c.value, 144);
}

/* A waiter that gives up gets NULL; the late reply is freed, not leaked
 * (ASan's leak check watches this one). */
#define MSG_SLOW (RT_MSG_USER + 4)
static void slow_replier(rt_actor_t *self, rt_msg_t *msg)
{
    (void)self;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    rt_reply(msg, int_msg(MSG_ANSWER, 1, 0));
    rt_msg_free(msg);
}

static void test_future_timeout(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(1);
    rt_actor_opts_t o = {.name = "slow", .dedicated = true};
    rt_actor_t *slow = rt_spawn(rt, slow_replier, NULL, &o);
    rt_future_t *f = rt_future_new();
    assert_int_equal(rt_ask_future(slow, int_msg(MSG_SLOW, 0, 0), f), RT_OK);
    assert_null(rt_future_wait(f, 20));
    rt_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actor_to_actor),
        cmocka_unit_test(test_future_from_plain_thread),
        cmocka_unit_test(test_callback_future),
        cmocka_unit_test(test_future_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
