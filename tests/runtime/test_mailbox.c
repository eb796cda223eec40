/* Many producers into one actor's bounded mailbox: nothing lost or
 * duplicated, FIFO per producer, and the bound holds. */
#include <stdlib.h>
#include <string.h>

#include "rt_test.h"

#define PRODUCERS 4
#define PER_PRODUCER 100000
#define MSG_ITEM (RT_MSG_USER + 1)

typedef struct sink {
    int next[PRODUCERS];
    long received;
    bool order_ok;
    latch_t done;
} sink_t;

static void sink_handler(rt_actor_t *self, rt_msg_t *msg)
{
    sink_t *s = rt_actor_state(self);
    int_msg_t *m = (int_msg_t *)msg;
    if (m->b != s->next[m->a])
        s->order_ok = false;
    s->next[m->a] = m->b + 1;
    if (++s->received == (long)PRODUCERS * PER_PRODUCER)
        latch_count_down(&s->done);
    rt_msg_free(msg);
}

typedef struct producer_arg {
    rt_actor_t *sink;
    int id;
} producer_arg_t;

static void *producer_thread(void *arg)
{
    producer_arg_t *p = arg;
    for (int i = 0; i < PER_PRODUCER; i++)
        send_retry(p->sink, int_msg(MSG_ITEM, p->id, i));
    return NULL;
}

static void test_outside_producers(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    sink_t s = {.order_ok = true};
    latch_init(&s.done, 1);
    rt_actor_opts_t o = {.name = "sink", .capacity = 1024};
    rt_actor_t *sink = rt_spawn(rt, sink_handler, &s, &o);

    pthread_t th[PRODUCERS];
    producer_arg_t args[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++) {
        args[p] = (producer_arg_t){sink, p};
        pthread_create(&th[p], NULL, producer_thread, &args[p]);
    }
    for (int p = 0; p < PRODUCERS; p++)
        pthread_join(th[p], NULL);
    assert_true(latch_wait(&s.done, 60000));
    rt_destroy(rt);

    assert_true(s.order_ok);
    assert_int_equal(s.received, (long)PRODUCERS * PER_PRODUCER);
    for (int p = 0; p < PRODUCERS; p++)
        assert_int_equal(s.next[p], PER_PRODUCER);
}

/* Producers that are actors themselves, each sending its sequence in chunks
 * driven by messages to itself. */
#define MSG_KICK (RT_MSG_USER + 2)
typedef struct prod_actor {
    rt_actor_t *sink;
    int id;
    int sent;
} prod_actor_t;

static void prod_handler(rt_actor_t *self, rt_msg_t *msg)
{
    prod_actor_t *p = rt_actor_state(self);
    rt_msg_free(msg);
    for (int k = 0; k < 100 && p->sent < PER_PRODUCER; k++) {
        int_msg_t *m = int_msg(MSG_ITEM, p->id, p->sent);
        if (rt_send(p->sink, m) != RT_OK) {
            rt_msg_free(m);   /* full: try again on the next kick */
            break;
        }
        p->sent++;
    }
    if (p->sent < PER_PRODUCER)
        rt_send_force(self, rt_msg_new(sizeof(rt_msg_t), MSG_KICK));
}

static void test_actor_producers(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    sink_t s = {.order_ok = true};
    latch_init(&s.done, 1);
    rt_actor_opts_t o = {.name = "sink", .capacity = 512};
    rt_actor_t *sink = rt_spawn(rt, sink_handler, &s, &o);
    prod_actor_t ps[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++) {
        ps[p] = (prod_actor_t){sink, p, 0};
        rt_actor_t *a = rt_spawn(rt, prod_handler, &ps[p], NULL);
        assert_int_equal(rt_send(a, rt_msg_new(sizeof(rt_msg_t), MSG_KICK)), RT_OK);
    }
    assert_true(latch_wait(&s.done, 60000));
    rt_destroy(rt);
    assert_true(s.order_ok);
    assert_int_equal(s.received, (long)PRODUCERS * PER_PRODUCER);
}

/* A dedicated actor blocked in its handler cannot drain: the mailbox takes
 * exactly `capacity` messages and then refuses with RT_FULL, keeping the
 * caller's message. */
static void test_capacity_bound(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(1);
    gate_t g;
    gate_init(&g, false);
    rt_actor_opts_t o = {.name = "gated", .capacity = 16, .dedicated = true};
    rt_actor_t *a = rt_spawn(rt, gated_handler, &g, &o);
    for (int i = 0; i < 16; i++)
        assert_int_equal(rt_send(a, int_msg(MSG_ITEM, 0, i)), RT_OK);
    int_msg_t *extra = int_msg(MSG_ITEM, 0, 99);
    assert_int_equal(rt_send(a, extra), RT_FULL);
    assert_int_equal(rt_actor_depth(a), 16);
    rt_msg_free(extra);

    gate_open(&g);
    rt_shutdown(rt);
    assert_int_equal(g.handled, 16);
    assert_int_equal(rt_actor_depth(a), 0);
    rt_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside_producers),
        cmocka_unit_test(test_actor_producers),
        cmocka_unit_test(test_capacity_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
