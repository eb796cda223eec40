/* Dedicated actors and file descriptors: readiness arrives as RT_MSG_IO
 * with the watch's tag, once per readiness; a send wakes an actor asleep
 * in epoll; no wake-up is lost between a worker's last look and its sleep;
 * only dedicated actors may watch. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt_test.h"

enum { MSG_PING = RT_MSG_USER, MSG_WATCH, MSG_UNWATCH };

typedef struct io_state {
    int fd;                 /* the read end it watches */
    int ios;                /* RT_MSG_IO handled */
    int reads;              /* bytes read */
    int pings;
    uint64_t last_tag;
    uint32_t last_events;
    bool read_on_io;        /* false: leave the byte, count deliveries */
    latch_t *latch;
} io_state_t;

static void io_handler(rt_actor_t *self, rt_msg_t *msg)
{
    io_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case RT_MSG_IO: {
        rt_io_msg_t *io = (rt_io_msg_t *)msg;
        __atomic_add_fetch(&s->ios, 1, __ATOMIC_ACQ_REL);
        s->last_tag = io->tag;
        s->last_events = io->events;
        char b[64];
        if (s->read_on_io) {
            ssize_t n = read(io->fd, b, sizeof(b));
            if (n > 0)
                __atomic_add_fetch(&s->reads, (int)n, __ATOMIC_ACQ_REL);
        }
        break;
    }
    case MSG_WATCH:
        assert_int_equal(rt_watch_fd(self, s->fd, EPOLLIN, 42), 0);
        break;
    case MSG_UNWATCH:
        assert_int_equal(rt_unwatch_fd(self, s->fd), 0);
        break;
    case MSG_PING:
        __atomic_add_fetch(&s->pings, 1, __ATOMIC_ACQ_REL);
        if (msg->reply_future != NULL || msg->reply_actor != NULL)
            rt_reply(msg, rt_msg_new(sizeof(rt_msg_t), MSG_PING));
        break;
    }
    if (s->latch)
        latch_count_down(s->latch);
    rt_msg_free(msg);
}

static bool wait_int(int *v, int want, int timeout_ms)
{
    for (int i = 0; i < timeout_ms; i++) {
        if (__atomic_load_n(v, __ATOMIC_ACQUIRE) >= want)
            return true;
        usleep(1000);
    }
    return __atomic_load_n(v, __ATOMIC_ACQUIRE) >= want;
}

static void test_readiness_delivered_with_tag(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    rt_runtime_t *rt = rt_create(1);
    io_state_t s = {.fd = p[0], .read_on_io = true};
    rt_actor_opts_t o = {.name = "io", .dedicated = true};
    rt_actor_t *a = rt_spawn(rt, io_handler, &s, &o);
    assert_int_equal(rt_watch_fd(a, p[0], EPOLLIN, 42), 0);
    usleep(20000);
    assert_int_equal(__atomic_load_n(&s.ios, __ATOMIC_ACQUIRE), 0);   /* nothing ready yet */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(write(p[1], "x", 1), 1);
        assert_true(wait_int(&s.reads, i + 1, 5000));
    }
    rt_destroy(rt);
    assert_int_equal(s.reads, 5);
    assert_int_equal(s.last_tag, 42);
    assert_true(s.last_events & EPOLLIN);
    close(p[0]);
    close(p[1]);
}

/* An fd left readable is reported again only after its message was
 * handled: never a pile of copies for one readiness. */
static void test_once_per_readiness(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    rt_runtime_t *rt = rt_create(1);
    io_state_t s = {.fd = p[0], .read_on_io = false};
    rt_actor_opts_t o = {.name = "io", .dedicated = true, .batch = 1};
    rt_actor_t *a = rt_spawn(rt, io_handler, &s, &o);
    /* Busy: a stream of pings keeps the worker from sleeping. */
    for (int i = 0; i < 2000; i++)
        send_retry(a, int_msg(MSG_PING, i, 0));
    assert_int_equal(rt_watch_fd(a, p[0], EPOLLIN, 7), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_true(wait_int(&s.pings, 2000, 5000));
    assert_true(wait_int(&s.ios, 1, 5000));
    /* Level-triggered: still readable, so reported again -- but with at most
     * one message outstanding, the count of IO messages in the mailbox never
     * exceeds one. */
    int depth_max = 0;
    for (int i = 0; i < 200; i++) {
        int d = rt_actor_depth(a);
        depth_max = d > depth_max ? d : depth_max;
        usleep(100);
    }
    assert_true(depth_max <= 1);
    /* Unwatched from its own handler: no more deliveries. */
    send_retry(a, rt_msg_new(sizeof(rt_msg_t), MSG_UNWATCH));
    usleep(20000);
    int after = __atomic_load_n(&s.ios, __ATOMIC_ACQUIRE);
    usleep(50000);
    assert_int_equal(__atomic_load_n(&s.ios, __ATOMIC_ACQUIRE), after);
    rt_destroy(rt);
    close(p[0]);
    close(p[1]);
}

static void test_writable_and_hangup(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    rt_runtime_t *rt = rt_create(1);
    io_state_t s = {.fd = sv[0], .read_on_io = false};
    rt_actor_opts_t o = {.name = "io", .dedicated = true};
    rt_actor_t *a = rt_spawn(rt, io_handler, &s, &o);
    assert_int_equal(rt_watch_fd(a, sv[0], EPOLLOUT, 9), 0);
    assert_true(wait_int(&s.ios, 1, 5000));
    send_retry(a, rt_msg_new(sizeof(rt_msg_t), MSG_UNWATCH));
    usleep(20000);
    rt_destroy(rt);
    assert_int_equal(s.last_tag, 9);
    assert_true(s.last_events & EPOLLOUT);
    close(sv[0]);
    close(sv[1]);
}

/* An outside thread and a dedicated actor asleep in epoll play ping-pong:
 * a lost wake-up would stall a round trip until the test's timeout. */
static void test_wake_on_send_no_lost_wakeup(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    rt_runtime_t *rt = rt_create(2);
    io_state_t s = {.fd = p[0], .read_on_io = true};
    rt_actor_opts_t o = {.name = "io", .dedicated = true};
    rt_actor_t *a = rt_spawn(rt, io_handler, &s, &o);
    assert_int_equal(rt_watch_fd(a, p[0], EPOLLIN, 1), 0);
    uint64_t t0 = rt_now_ms();
    for (int i = 0; i < 20000; i++) {
        rt_future_t *f = rt_future_new();
        assert_int_equal(rt_ask_future(a, int_msg(MSG_PING, i, 0), f), RT_OK);
        rt_msg_t *r = rt_future_wait(f, 5000);
        assert_non_null(r);   /* NULL: a wake-up was lost */
        rt_msg_free(r);
        if (i % 1000 == 0)
            assert_int_equal(write(p[1], "y", 1), 1);   /* fds and sends mixed */
    }
    assert_true(wait_int(&s.reads, 20, 5000));
    rt_destroy(rt);
    assert_int_equal(s.pings, 20000);
    assert_true(rt_now_ms() - t0 < 60000);
    close(p[0]);
    close(p[1]);
}

/* Many senders at once, with pauses that let the worker fall asleep
 * between bursts: every message arrives. */
typedef struct sender_arg {
    rt_actor_t *to;
    int n;
} sender_arg_t;

static void *sender(void *arg)
{
    sender_arg_t *sa = arg;
    for (int i = 0; i < sa->n; i++) {
        send_retry(sa->to, int_msg(MSG_PING, i, 0));
        if (i % 97 == 0)
            usleep(200);
    }
    return NULL;
}

static void test_many_senders(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(2);
    int p[2];
    assert_int_equal(pipe(p), 0);
    io_state_t s = {.fd = p[0], .read_on_io = true};
    rt_actor_opts_t o = {.name = "io", .dedicated = true, .capacity = 256};
    rt_actor_t *a = rt_spawn(rt, io_handler, &s, &o);
    assert_int_equal(rt_watch_fd(a, p[0], EPOLLIN, 1), 0);
    pthread_t t[4];
    sender_arg_t sa = {a, 5000};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, sender, &sa);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_true(wait_int(&s.pings, 20000, 10000));
    rt_destroy(rt);
    assert_int_equal(s.pings, 20000);
    close(p[0]);
    close(p[1]);
}

static void test_only_dedicated_actors_watch(void **state)
{
    (void)state;
    rt_runtime_t *rt = rt_create(1);
    io_state_t s = {0};
    rt_actor_t *pooled = rt_spawn(rt, io_handler, &s, NULL);
    int p[2];
    assert_int_equal(pipe(p), 0);
    errno = 0;
    assert_int_equal(rt_watch_fd(pooled, p[0], EPOLLIN, 1), -1);
    assert_int_equal(errno, EINVAL);
    rt_actor_opts_t o = {.name = "io", .dedicated = true};
    rt_actor_t *a = rt_spawn(rt, io_handler, &s, &o);
    assert_int_equal(rt_unwatch_fd(a, p[0]), -1);    /* never watched */
    assert_int_equal(rt_watch_fd(a, -1, EPOLLIN, 1), -1);
    rt_destroy(rt);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readiness_delivered_with_tag),
        cmocka_unit_test(test_once_per_readiness),
        cmocka_unit_test(test_writable_and_hangup),
        cmocka_unit_test(test_wake_on_send_no_lost_wakeup),
        cmocka_unit_test(test_many_senders),
        cmocka_unit_test(test_only_dedicated_actors_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
