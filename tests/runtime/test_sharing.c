/* Work spreads: actors whose messages are expensive, all woken from one
 * worker, end up running on both workers (an idle worker is handed part of
 * a lasting backlog), while cheap ping-pong stays on one core. */
#include <stdlib.h>
#include <unistd.h>

#include "rt_test.h"

#define ACTORS 8
#define MSGS 150
#define MSG_WORK (RT_MSG_USER + 1)
#define MSG_GO (RT_MSG_USER + 2)

typedef struct heavy {
    pthread_t seen[4];
    int nseen;
    int handled;
    latch_t *done;
} heavy_t;

static void busy_us(int us)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static void heavy_handler(rt_actor_t *self, rt_msg_t *msg)
{
    heavy_t *h = rt_actor_state(self);
    busy_us(20);
    pthread_t me = pthread_self();
    bool known = false;
    for (int i = 0; i < h->nseen; i++)
        known |= pthread_equal(h->seen[i], me);
    if (!known && h->nseen < 4)
        h->seen[h->nseen++] = me;
    if (++h->handled == MSGS)
        latch_count_down(h->done);
    rt_msg_free(msg);
}

static rt_actor_t *heavies[ACTORS];

static void feeder(rt_actor_t *self, rt_msg_t *msg)
{
    (void)self;
    rt_msg_free(msg);
    for (int k = 0; k < MSGS; k++)
        for (int i = 0; i < ACTORS; i++)
            rt_send_force(heavies[i], rt_msg_new(sizeof(rt_msg_t), MSG_WORK));
}

static void test_expensive_backlog_is_shared(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    latch_t done;
    latch_init(&done, ACTORS);
    heavy_t hs[ACTORS] = {0};
    for (int i = 0; i < ACTORS; i++) {
        hs[i].done = &done;
        rt_actor_opts_t o = {.name = "heavy", .batch = 8};
        heavies[i] = rt_spawn(rt, heavy_handler, &hs[i], &o);
    }
    rt_actor_t *f = rt_spawn(rt, feeder, NULL, NULL);
    assert_int_equal(rt_send(f, rt_msg_new(sizeof(rt_msg_t), MSG_GO)), RT_OK);
    assert_true(latch_wait(&done, 60000));
    rt_stats_t st;
    rt_get_stats(rt, &st);
    rt_destroy(rt);

    pthread_t threads[8];
    int nthreads = 0;
    for (int i = 0; i < ACTORS; i++)
        for (int j = 0; j < hs[i].nseen; j++) {
            bool known = false;
            for (int k = 0; k < nthreads; k++)
                known |= pthread_equal(threads[k], hs[i].seen[j]);
            if (!known && nthreads < 8)
                threads[nthreads++] = hs[i].seen[j];
        }
    assert_true(st.handoffs > 0);
    assert_int_equal(nthreads, 2);
}

#define ROUNDS 20000
static void pp(rt_actor_t *self, rt_msg_t *msg)
{
    int_msg_t *m = (int_msg_t *)msg;
    rt_actor_t **peer = rt_actor_state(self);
    if (m->a == 0) {
        latch_count_down((latch_t *)(void *)peer[1]);
        rt_msg_free(msg);
        return;
    }
    m->a--;
    rt_send_force(peer[0], m);
}

static void test_cheap_pingpong_is_not_shared(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    latch_t done;
    latch_init(&done, 1);
    static rt_actor_t *a_peer[2], *b_peer[2];
    rt_actor_t *a = rt_spawn(rt, pp, a_peer, NULL);
    rt_actor_t *b = rt_spawn(rt, pp, b_peer, NULL);
    a_peer[0] = b;
    a_peer[1] = (rt_actor_t *)(void *)&done;
    b_peer[0] = a;
    b_peer[1] = (rt_actor_t *)(void *)&done;
    assert_int_equal(rt_send(a, int_msg(RT_MSG_USER + 3, ROUNDS, 0)), RT_OK);
    assert_true(latch_wait(&done, 60000));
    rt_stats_t st;
    rt_get_stats(rt, &st);
    rt_destroy(rt);
    assert_int_equal(st.handoffs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expensive_backlog_is_shared),
        cmocka_unit_test(test_cheap_pingpong_is_not_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
