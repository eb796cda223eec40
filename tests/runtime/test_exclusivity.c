/* No actor ever runs on two threads at once. Each handler marks itself
 * inside with an atomic exchange and updates plain (non-atomic) state; a
 * second thread inside the same actor is caught by the flag here and by
 * ThreadSanitizer in the TSan build. */
#include <stdlib.h>

#include "rt_test.h"

#define ACTORS 8
#define SENDERS 4
#define PER_SENDER_PER_ACTOR 20000
#define MSG_HIT (RT_MSG_USER + 1)

typedef struct counted {
    int inside;          /* exchanged atomically */
    long plain_count;    /* plain: only safe if the actor is exclusive */
    int overlaps;
    latch_t *done;
} counted_t;

static void counted_handler(rt_actor_t *self, rt_msg_t *msg)
{
    counted_t *c = rt_actor_state(self);
    if (__atomic_exchange_n(&c->inside, 1, __ATOMIC_ACQ_REL) != 0)
        __atomic_fetch_add(&c->overlaps, 1, __ATOMIC_RELAXED);
    long v = c->plain_count;
    for (volatile int spin = 0; spin < 20; spin++) {
    }
    c->plain_count = v + 1;
    __atomic_store_n(&c->inside, 0, __ATOMIC_RELEASE);
    if (c->plain_count == (long)SENDERS * PER_SENDER_PER_ACTOR)
        latch_count_down(c->done);
    rt_msg_free(msg);
}

static rt_actor_t *targets[ACTORS];

static void *sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_SENDER_PER_ACTOR; i++)
        for (int a = 0; a < ACTORS; a++)
            send_retry(targets[a], rt_msg_new(sizeof(rt_msg_t), MSG_HIT));
    return NULL;
}

static void test_actor_never_on_two_threads(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(4);   /* more workers than cores: preemption */
    latch_t done;
    latch_init(&done, ACTORS);
    counted_t cs[ACTORS] = {0};
    for (int a = 0; a < ACTORS; a++) {
        cs[a].done = &done;
        rt_actor_opts_t o = {.name = "counted", .capacity = 256, .batch = 4};
        targets[a] = rt_spawn(rt, counted_handler, &cs[a], &o);
    }
    pthread_t th[SENDERS];
    for (int s = 0; s < SENDERS; s++)
        pthread_create(&th[s], NULL, sender, NULL);
    for (int s = 0; s < SENDERS; s++)
        pthread_join(th[s], NULL);
    assert_true(latch_wait(&done, 120000));
    rt_destroy(rt);
    for (int a = 0; a < ACTORS; a++) {
        assert_int_equal(cs[a].overlaps, 0);
        assert_int_equal(cs[a].plain_count, (long)SENDERS * PER_SENDER_PER_ACTOR);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actor_never_on_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
