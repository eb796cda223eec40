/* A busy actor cannot starve the others: on a single worker, an actor that
 * keeps sending itself work forever still lets another actor handle all of
 * its messages, because each activation runs a bounded batch. */
#include <stdlib.h>
#include <unistd.h>

#include "rt_test.h"

#define MSG_SPIN (RT_MSG_USER + 1)
#define MSG_WORK (RT_MSG_USER + 2)
#define VICTIM_MSGS 1000

typedef struct hog {
    long handled;
    int stop;
} hog_t;

static void hog_handler(rt_actor_t *self, rt_msg_t *msg)
{
    hog_t *h = rt_actor_state(self);
    __atomic_fetch_add(&h->handled, 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE))
        rt_send_force(self, msg);   /* endless self-feeding */
    else
        rt_msg_free(msg);
}

typedef struct victim {
    int handled;
    long hog_seen_at_end;
    hog_t *hog;
    latch_t done;
} victim_t;

static void victim_handler(rt_actor_t *self, rt_msg_t *msg)
{
    victim_t *v = rt_actor_state(self);
    if (++v->handled == VICTIM_MSGS) {
        v->hog_seen_at_end = __atomic_load_n(&v->hog->handled, __ATOMIC_RELAXED);
        latch_count_down(&v->done);
    }
    rt_msg_free(msg);
}

static void test_busy_actor_does_not_starve(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(1);
    hog_t h = {0};
    rt_actor_opts_t ho = {.name = "hog", .batch = 32};
    rt_actor_t *hog = rt_spawn(rt, hog_handler, &h, &ho);
    for (int i = 0; i < 8; i++)
        assert_int_equal(rt_send(hog, rt_msg_new(sizeof(rt_msg_t), MSG_SPIN)), RT_OK);

    victim_t v = {.hog = &h};
    latch_init(&v.done, 1);
    rt_actor_t *victim = rt_spawn(rt, victim_handler, &v, NULL);
    for (int i = 0; i < VICTIM_MSGS; i++)
        send_retry(victim, rt_msg_new(sizeof(rt_msg_t), MSG_WORK));

    bool finished = latch_wait(&v.done, 30000);
    usleep(20000);
    long hog_later = __atomic_load_n(&h.handled, __ATOMIC_RELAXED);
    __atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
    rt_destroy(rt);
    assert_true(finished);
    assert_int_equal(v.handled, VICTIM_MSGS);
    /* The hog was running when the victim finished and kept running after:
     * the victim was served while the hog never ran out of work. */
    assert_true(v.hog_seen_at_end > 0);
    assert_true(hog_later > v.hog_seen_at_end);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_actor_does_not_starve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
