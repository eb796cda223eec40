/* Many producers, one consumer: nothing lost, nothing duplicated, each
 * producer's items come out in the order it pushed them. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mpscq.h"

#define PRODUCERS 4
#define PER_PRODUCER 200000

typedef struct item {
    rt_mpscq_node_t node;
    int producer;
    int seq;
} item_t;

static rt_mpscq_t queue;
static item_t *items[PRODUCERS];

static void *producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < PER_PRODUCER; i++)
        rt_mpscq_push(&queue, &items[p][i].node);
    return NULL;
}

static void test_many_producers_fifo_per_producer(void **state)
{
    (void)state;
    rt_mpscq_init(&queue);
    for (int p = 0; p < PRODUCERS; p++) {
        items[p] = calloc(PER_PRODUCER, sizeof(item_t));
        for (int i = 0; i < PER_PRODUCER; i++) {
            items[p][i].producer = p;
            items[p][i].seq = i;
        }
    }
    pthread_t th[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++)
        pthread_create(&th[p], NULL, producer, (void *)(intptr_t)p);

    int next[PRODUCERS] = {0};
    long got = 0;
    while (got < (long)PRODUCERS * PER_PRODUCER) {
        item_t *it = (item_t *)rt_mpscq_pop(&queue);
        if (it == NULL)
            continue;
        assert_int_equal(it->seq, next[it->producer]);
        next[it->producer]++;
        got++;
    }
    for (int p = 0; p < PRODUCERS; p++) {
        pthread_join(th[p], NULL);
        assert_int_equal(next[p], PER_PRODUCER);
    }
    assert_null(rt_mpscq_pop(&queue));
    assert_false(rt_mpscq_maybe_nonempty(&queue));
    for (int p = 0; p < PRODUCERS; p++)
        free(items[p]);
}

static void test_empty_and_single(void **state)
{
    (void)state;
    rt_mpscq_t q;
    item_t a = {0}, b = {0};
    rt_mpscq_init(&q);
    assert_null(rt_mpscq_pop(&q));
    rt_mpscq_push(&q, &a.node);
    assert_ptr_equal(rt_mpscq_pop(&q), &a.node);
    assert_null(rt_mpscq_pop(&q));
    rt_mpscq_push(&q, &a.node);
    rt_mpscq_push(&q, &b.node);
    assert_ptr_equal(rt_mpscq_pop(&q), &a.node);
    assert_ptr_equal(rt_mpscq_pop(&q), &b.node);
    assert_null(rt_mpscq_pop(&q));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_single),
        cmocka_unit_test(test_many_producers_fifo_per_producer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
