/*
 * savina.c -- Savina actor benchmarks on dispatchd's runtime, for
 * `dispatchd bench runtime` (bench_runtime.c runs each in a fresh process).
 *
 * pingpong (1,000,000 round trips), counting (1,000,000 messages to one
 * actor), fjthrput (60 actors x 10,000 messages, Savina's defaults), big
 * (120 actors x 20,000 pings, Savina's defaults). Every message is a fresh
 * allocation, as in CAF. Senders respect mailbox bounds: a producer that
 * fills a mailbox waits for its low-watermark notification instead of
 * forcing past it.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "runtime.h"
#include "savina.h"

enum { M_PING = RT_MSG_USER + 1, M_PONG, M_START, M_COUNT, M_WORK, M_DONE };

typedef struct int_msg {
    rt_msg_t hdr;
    long value;
    rt_actor_t *from;
} int_msg_t;

static int_msg_t *msg(uint32_t type, long value, rt_actor_t *from)
{
    int_msg_t *m = rt_msg_new(sizeof(*m), type);
    m->value = value;
    m->from = from;
    return m;
}

/* --- completion latch ------------------------------------------------------ */
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_left;

static void finish_one(void)
{
    pthread_mutex_lock(&done_lock);
    if (--done_left == 0)
        pthread_cond_signal(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

static void wait_done(void)
{
    pthread_mutex_lock(&done_lock);
    while (done_left > 0)
        pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
}

/* --- pingpong -------------------------------------------------------------- */
#define PP_ROUNDS 1000000L

static void pp_ponger(rt_actor_t *self, rt_msg_t *m)
{
    int_msg_t *p = (int_msg_t *)m;
    rt_send_force(p->from, msg(M_PONG, p->value, self));
    rt_msg_free(m);
}

static void pp_pinger(rt_actor_t *self, rt_msg_t *m)
{
    rt_actor_t *ponger = rt_actor_state(self);
    int_msg_t *p = (int_msg_t *)m;
    long left = m->type == M_START ? PP_ROUNDS : p->value - 1;
    rt_msg_free(m);
    if (left == 0) {
        finish_one();
        return;
    }
    rt_send_force(ponger, msg(M_PING, left, self));
}

static long run_pingpong(rt_runtime_t *rt)
{
    rt_actor_t *ponger = rt_spawn(rt, pp_ponger, NULL, NULL);
    rt_actor_t *pinger = rt_spawn(rt, pp_pinger, ponger, NULL);
    done_left = 1;
    rt_send(pinger, msg(M_START, 0, NULL));
    wait_done();
    return 2 * PP_ROUNDS;
}

/* --- counting ---------------------------------------------------------------- */
#define COUNT_N 1000000L

typedef struct producer {
    rt_actor_t *counter;
    long sent;
} producer_t;

static void count_counter(rt_actor_t *self, rt_msg_t *m)
{
    long *count = rt_actor_state(self);
    if (m->type == M_COUNT && ++*count == COUNT_N)
        finish_one();
    rt_msg_free(m);
}

/* Sends until the counter's mailbox says "full", then waits for its
 * low-watermark notification: a bounded mailbox is never forced. */
static void count_producer(rt_actor_t *self, rt_msg_t *m)
{
    producer_t *p = rt_actor_state(self);
    rt_msg_free(m);
    while (p->sent < COUNT_N && !rt_actor_pressured(p->counter)) {
        int_msg_t *c = msg(M_COUNT, p->sent, NULL);
        if (rt_send(p->counter, c) != RT_OK) {
            rt_msg_free(c);
            break;
        }
        p->sent++;
    }
}

static long run_counting(rt_runtime_t *rt)
{
    static long count;
    static producer_t prod;
    count = 0;
    rt_actor_opts_t co = {.name = "counter", .capacity = 8192, .high_watermark = 4096, .low_watermark = 1024};
    prod.counter = rt_spawn(rt, count_counter, &count, &co);
    prod.sent = 0;
    rt_actor_t *producer = rt_spawn(rt, count_producer, &prod, NULL);
    rt_subscribe_pressure(prod.counter, producer, 0);
    done_left = 1;
    rt_send(producer, msg(M_START, 0, NULL));
    wait_done();
    return COUNT_N;
}

/* --- fork-join throughput ------------------------------------------------------ */
#define FJ_ACTORS 60
#define FJ_MSGS 10000L

typedef struct fj_worker_state {
    long n;
    double sink;   /* defeats dead-code elimination */
} fj_worker_state_t;

static void fj_worker(rt_actor_t *self, rt_msg_t *m)
{
    fj_worker_state_t *w = rt_actor_state(self);
    double s = sin(37.2 + (double)((int_msg_t *)m)->value * 1e-9);
    if (s * s <= 0)
        abort();
    w->sink += s;
    rt_msg_free(m);
    if (++w->n == FJ_MSGS)
        finish_one();
}

typedef struct fj_master {
    rt_actor_t *workers[FJ_ACTORS];
    long sent[FJ_ACTORS];
} fj_master_t;

/* Round robin over the workers, skipping any whose mailbox is over its high
 * watermark; when every unfinished worker is full, wait for a low-watermark
 * notification. */
static void fj_master_handler(rt_actor_t *self, rt_msg_t *m)
{
    fj_master_t *fm = rt_actor_state(self);
    rt_msg_free(m);
    bool progress = true;
    while (progress) {
        progress = false;
        for (int i = 0; i < FJ_ACTORS; i++) {
            rt_actor_t *w = fm->workers[i];
            if (fm->sent[i] == FJ_MSGS || rt_actor_pressured(w))
                continue;
            int_msg_t *x = msg(M_WORK, fm->sent[i], NULL);
            if (rt_send(w, x) != RT_OK) {
                rt_msg_free(x);
                continue;
            }
            fm->sent[i]++;
            progress = true;
        }
    }
}

static long run_fjthrput(rt_runtime_t *rt)
{
    static fj_worker_state_t counts[FJ_ACTORS];
    static fj_master_t fm;
    memset(counts, 0, sizeof(counts));
    memset(&fm, 0, sizeof(fm));
    rt_actor_t *master = rt_spawn(rt, fj_master_handler, &fm, NULL);
    rt_actor_opts_t wo = {.name = "worker", .capacity = 1024, .high_watermark = 512, .low_watermark = 128};
    for (int i = 0; i < FJ_ACTORS; i++) {
        fm.workers[i] = rt_spawn(rt, fj_worker, &counts[i], &wo);
        rt_subscribe_pressure(fm.workers[i], master, (uint64_t)i);
    }
    done_left = FJ_ACTORS;
    rt_send(master, msg(M_START, 0, NULL));
    wait_done();
    return FJ_MSGS * FJ_ACTORS;
}

/* --- big ------------------------------------------------------------------------ */
#define BIG_ACTORS 120
#define BIG_PINGS 20000L

typedef struct big_actor {
    rt_actor_t **all;
    long pings_left;
    unsigned rng;
} big_actor_t;

static void big_send_ping(rt_actor_t *self, big_actor_t *b)
{
    b->rng = b->rng * 1103515245u + 12345u;
    rt_actor_t *to = b->all[(b->rng >> 8) % BIG_ACTORS];
    rt_send_force(to, msg(M_PING, 0, self));
}

static void big_handler(rt_actor_t *self, rt_msg_t *m)
{
    big_actor_t *b = rt_actor_state(self);
    int_msg_t *p = (int_msg_t *)m;
    switch (m->type) {
    case M_PING:
        rt_send_force(p->from, msg(M_PONG, 0, self));
        break;
    case M_PONG:
        if (--b->pings_left == 0)
            finish_one();
        else
            big_send_ping(self, b);
        break;
    case M_START:
        big_send_ping(self, b);
        break;
    }
    rt_msg_free(m);
}

static long run_big(rt_runtime_t *rt)
{
    static rt_actor_t *all[BIG_ACTORS];
    static big_actor_t states[BIG_ACTORS];
    for (int i = 0; i < BIG_ACTORS; i++) {
        states[i] = (big_actor_t){all, BIG_PINGS, (unsigned)i * 7919u + 1};
        all[i] = rt_spawn(rt, big_handler, &states[i], NULL);
    }
    done_left = BIG_ACTORS;
    for (int i = 0; i < BIG_ACTORS; i++)
        rt_send(all[i], msg(M_START, 0, NULL));
    wait_done();
    return 2 * BIG_ACTORS * BIG_PINGS;
}

/* VmHWM, not getrusage: ru_maxrss survives exec and would report the
 * launching process's size. */
const char *const savina_names[] = {"pingpong", "counting", "fjthrput", "big", NULL};

long savina_run(const char *name, int threads, double *seconds)
{
    long (*run)(rt_runtime_t *) = strcmp(name, "pingpong") == 0   ? run_pingpong
                                  : strcmp(name, "counting") == 0 ? run_counting
                                  : strcmp(name, "fjthrput") == 0 ? run_fjthrput
                                  : strcmp(name, "big") == 0      ? run_big
                                                                  : NULL;
    if (run == NULL)
        return -1;
    rt_runtime_t *rt = rt_create(threads);
    double t0 = bench_now_s();
    long msgs = run(rt);
    *seconds = bench_now_s() - t0;
    rt_destroy(rt);
    return msgs;
}
