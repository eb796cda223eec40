/* Shutdown stops outside intake, lets every queued message and every message
 * those produce be handled, then joins. */
#include <stdlib.h>

#include "rt_test.h"

#define MSG_HOP (RT_MSG_USER + 1)
#define CHAINS 200
#define HOPS 500

typedef struct relay {
    rt_actor_t *next;
    long handled;
} relay_t;

/* Each message hops around a ring of relays `a` more times. */
static void relay_handler(rt_actor_t *self, rt_msg_t *msg)
{
    relay_t *r = rt_actor_state(self);
    int_msg_t *m = (int_msg_t *)msg;
    __atomic_fetch_add(&r->handled, 1, __ATOMIC_RELAXED);
    if (--m->a > 0)
        rt_send_force(r->next, m);
    else
        rt_msg_free(m);
}

static void test_drains_in_flight_chains(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    relay_t rs[4] = {0};
    rt_actor_t *as[4];
    for (int i = 0; i < 4; i++)
        as[i] = rt_spawn(rt, relay_handler, &rs[i], NULL);
    for (int i = 0; i < 4; i++)
        rs[i].next = as[(i + 1) % 4];
    for (int c = 0; c < CHAINS; c++)
        assert_int_equal(rt_send(as[c % 4], int_msg(MSG_HOP, HOPS, 0)), RT_OK);
    rt_shutdown(rt);   /* immediately: most hops are still ahead */

    long total = 0;
    for (int i = 0; i < 4; i++)
        total += rs[i].handled;
    assert_int_equal(total, (long)CHAINS * HOPS);

    int_msg_t *late = int_msg(MSG_HOP, 1, 0);
    assert_int_equal(rt_send(as[0], late), RT_STOPPED);
    rt_msg_free(late);
    rt_destroy(rt);
}

static int finalized;
static void count_finalizer(rt_actor_t *self)
{
    (void)self;
    finalized++;
}

static void test_finalizers_run_once(void **state)
{
    (void)state;
    finalized = 0;
    rt_runtime_t *rt = rt_create(2);
    rt_actor_opts_t o = {.finalizer = count_finalizer};
    for (int i = 0; i < 10; i++)
        rt_spawn(rt, relay_handler, NULL, &o);
    rt_actor_opts_t d = {.finalizer = count_finalizer, .dedicated = true};
    rt_spawn(rt, relay_handler, NULL, &d);
    rt_destroy(rt);
    assert_int_equal(finalized, 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drains_in_flight_chains),
        cmocka_unit_test(test_finalizers_run_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
