/*
 * poller.c -- the consumer poller: a dedicated actor that owns the
 * rd_kafka_t consumer.
 *
 * Each assigned partition's messages stay in its own librdkafka queue
 * (rd_kafka_queue_get_partition, no forwarding), and each MSG_POLL round
 * takes a batch from every partition that has room: one with fewer than
 * max_inflight records handed to its partition-consumer and not yet taken
 * (the status's `queued`), no operator pause, and no hold asked by its
 * partition-consumer. A held partition's records simply wait in
 * librdkafka, which stops fetching when its queue is full (bounded by
 * queued.max.messages.kbytes). Only a hold that lasts past HOLD_PAUSE_MS
 * becomes a real rd_kafka_pause_partitions, because a pause throws the
 * prefetched records away and resuming fetches them again: pausing on every
 * short hold cut throughput from ~60k to ~3k records/s in bench-consume.
 *
 * The round then serves the consumer queue (rebalances, errors, commit
 * results). A round that took something queues the next one behind any
 * control messages; one that took nothing ends there, and the next comes
 * with the next message: librdkafka announcing data or an event on a queue
 * (kafka_wake), a partition-consumer with room again, a control
 * message, or the tick, which paces the hold-to-pause check and keeps
 * max.poll.interval.ms from running out while partitions are held.
 */
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "log.h"
#include "strbuf.h"
#include "poller_internal.h"
#include "dlq_retry.h"
#include "partition.h"

#define TICK_MS 50              /* a round at least this often */
#define HOLD_PAUSE_MS 1000      /* a hold this long becomes a librdkafka pause */

void poller_retry_assign(poller_state_t *s, int32_t partition, uint64_t generation)
{
    if (s->env->to->dlq_retry == NULL)
        return;
    retry_assign_msg_t *m = rt_msg_new(sizeof(*m), MSG_RETRY_ASSIGN);
    m->partition = partition;
    m->generation = generation;
    m->consumer = s->partitions[partition];
    rt_send_force(s->env->to->dlq_retry, m);
}

uint64_t poller_next_generation(poller_state_t *s, int32_t partition)
{
    uint64_t g = ++s->generation[partition];
    pstat_set(&s->env->status->partitions[partition].generation, (int64_t)g);
    __atomic_add_fetch(&s->env->status->generations_changed, 1, __ATOMIC_RELEASE);
    return g;
}

/* No more wake-ups from librdkafka: before the consumer closes, since the
 * runtime stops before the consumer is destroyed. */
static void queue_events_off(poller_state_t *s)
{
    for (int i = 0; i < PIPELINE_MAX_PARTITIONS; i++)
        if (s->queues[i] != NULL)
            kafka_wake_unwatch(s->queues[i]);
    kafka_wake_unwatch(s->consumer_queue);
}


static void set_librdkafka_pause(poller_state_t *s, int32_t partition, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, s->env->cfg->topic_raw, partition);
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(s->consumer, l)
                                  : rd_kafka_resume_partitions(s->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn("poller", "%s partition %d: %s", pause ? "pause" : "resume", partition, rd_kafka_err2str(e));
        return;
    }
    s->paused[partition] = pause;
    log_debug("poller", "%s partition %d in librdkafka", pause ? "paused" : "resumed", partition);
}

/* A partition is held while its consumer asks for it, an operator paused
 * it, or max_inflight records wait in its mailbox (each partition-consumer
 * wakes the poller when it takes them); the held state is what the metrics
 * call paused. */
static void update_hold(poller_state_t *s, int32_t part)
{
    if (!s->assigned[part])
        return;
    bool hold = s->wants_pause[part] || s->admin_all || s->admin_part[part] ||
                pstat_get(&s->env->status->partitions[part].queued) >= s->env->cfg->max_inflight;
    if (hold != s->held[part]) {
        s->held[part] = hold;
        s->held_since_ms[part] = rt_now_ms();
        gauge_add(&g_metrics.partitions_paused, hold ? 1 : -1);
        pstat_set(&s->env->status->partitions[part].paused, hold);
    }
    if (hold && !s->paused[part] && rt_now_ms() - s->held_since_ms[part] >= HOLD_PAUSE_MS)
        set_librdkafka_pause(s, part, true);
    else if (!hold && s->paused[part])
        set_librdkafka_pause(s, part, false);
}

/* Hands a partition's fetched messages to its partition-consumer in one
 * message; the count it adds to `queued` is what holds the partition. */
static void dispatch(poller_state_t *s, int32_t part, rd_kafka_message_t **msgs, int n)
{
    const actor_env_t *env = s->env;
    if (part < 0 || part >= PIPELINE_MAX_PARTITIONS || s->partitions[part] == NULL || !s->assigned[part]) {
        for (int i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
        return;
    }
    record_batch_msg_t *b = rt_msg_new(offsetof(record_batch_msg_t, msgs) + (size_t)n * sizeof(msgs[0]), MSG_RECORDS);
    b->generation = s->generation[part];
    b->n = n;
    memcpy(b->msgs, msgs, (size_t)n * sizeof(msgs[0]));
    __atomic_add_fetch(&env->status->partitions[part].queued, n, __ATOMIC_ACQ_REL);
    /* Forced: the round stops taking from a partition once `queued` reaches
     * max_inflight, so it overshoots by at most one batch. */
    rt_send_force(s->partitions[part], b);
}

/* reset-offsets, done by the partition's owner: a new generation (waiting
 * records dropped, in-flight ones ignored), seek, commit, go on. Taking
 * from the partition stops for the duration: this runs on the poller. */
static void reset_partitions(poller_state_t *s, const admin_reset_msg_t *r)
{
    const actor_env_t *env = s->env;
    rd_kafka_topic_partition_list_t *seek = rd_kafka_topic_partition_list_new(r->n);
    for (int i = 0; i < r->n; i++) {
        int32_t part = r->partitions[i];
        if (part < 0 || part >= PIPELINE_MAX_PARTITIONS || !s->assigned[part])
            continue;
        assign_msg_t *m = rt_msg_new(sizeof(*m), MSG_ASSIGN);
        m->generation = poller_next_generation(s, part);
        m->committed = r->offsets[i];
        m->metadata[0] = '\0';
        offset_map_init(&m->applied);
        rt_send_force(s->partitions[part], m);
        poller_retry_assign(s, part, m->generation);
        rd_kafka_topic_partition_list_add(seek, env->cfg->topic_raw, part)->offset = r->offsets[i];
        log_info("poller", "reset partition %d to offset %lld", part, (long long)r->offsets[i]);
    }
    if (seek->cnt > 0) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(s->consumer, seek, 10000);
        if (e != NULL) {
            log_warn("poller", "reset: seek: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        rd_kafka_resp_err_t ce = rd_kafka_commit(s->consumer, seek, 0);
        if (ce != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn("poller", "reset: commit: %s", rd_kafka_err2str(ce));
        for (int i = 0; i < seek->cnt; i++)
            pstat_set(&env->status->partitions[seek->elems[i].partition].committed, seek->elems[i].offset);
    }
    rd_kafka_topic_partition_list_destroy(seek);
}

/* Rebalances (the callback runs in here), errors, commit results; returns
 * whether anything came. */
static bool serve_consumer_queue(poller_state_t *s)
{
    rd_kafka_message_t *m;
    bool any = false;
    while ((m = rd_kafka_consumer_poll(s->consumer, 0)) != NULL) {
        any = true;
        if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
            /* E.g. another process joined with this group.instance.id and
             * fenced this one: it may consume nothing more. Stop. */
            char why[256];
            rd_kafka_fatal_error(s->consumer, why, sizeof(why));
            log_error("poller", "consumer failed for good: %s; stopping", why);
            __atomic_store_n(&s->env->status->failed, 1, __ATOMIC_RELEASE);
            kill(getpid(), SIGTERM);
            rd_kafka_message_destroy(m);
        } else if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_warn("poller", "consume: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        } else {
            dispatch(s, m->partition, &m, 1);   /* a partition not (yet) split off */
        }
    }
    return any;
}

/* Returns whether the round did anything: then another follows at once. */
static bool poll_round(poller_state_t *s)
{
    kafka_wake_reading(&s->wake);
    rd_kafka_message_t *batch[RECORD_BATCH_MAX];
    long taken = 0;
    for (int32_t part = 0; part < PIPELINE_MAX_PARTITIONS; part++) {
        if (!s->assigned[part] || s->queues[part] == NULL)
            continue;
        update_hold(s, part);
        if (s->held[part])
            continue;
        ssize_t n = rd_kafka_consume_batch_queue(s->queues[part], 0, batch, RECORD_BATCH_MAX);
        int kept = 0;
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = batch[i];
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    log_warn("poller", "consume [%d]: %s", part, rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                continue;
            }
            batch[kept++] = m;
        }
        if (kept > 0)
            dispatch(s, part, batch, kept);
        taken += kept;
    }
    bool events = serve_consumer_queue(s);
    return taken > 0 || events;
}

/* A round now, unless one is already on its way. */
static void round_soon(poller_state_t *s)
{
    if (s->round_queued || s->stopped)
        return;
    s->round_queued = true;
    rt_send_force(s->self, rt_msg_new(sizeof(rt_msg_t), MSG_POLL));
}

static void poller_handler(rt_actor_t *self, rt_msg_t *msg)
{
    poller_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_POLL:
        s->round_queued = false;
        if (!s->stopped && poll_round(s))
            round_soon(s);
        break;
    case MSG_POLLER_WAKE:
    case RT_MSG_TIMER:
        round_soon(s);
        break;
    case MSG_PARTITION_CTL: {
        partition_ctl_msg_t *c = (partition_ctl_msg_t *)msg;
        if (c->partition >= 0 && c->partition < PIPELINE_MAX_PARTITIONS) {
            s->wants_pause[c->partition] = c->pause;
            update_hold(s, c->partition);
            if (!c->pause)
                round_soon(s);   /* it may be the only one with records */
        }
        break;
    }
    case MSG_ADMIN_RESET:
        reset_partitions(s, (admin_reset_msg_t *)msg);
        break;
    case MSG_ADMIN_PAUSE: {
        admin_pause_msg_t *a = (admin_pause_msg_t *)msg;
        if (a->all) {
            s->admin_all = a->pause;
            if (!a->pause) {
                memset(s->admin_part, 0, sizeof(s->admin_part));
                for (int32_t part = 0; part < PIPELINE_MAX_PARTITIONS; part++)
                    pstat_set(&s->env->status->partitions[part].admin_held, 0);
            }
            __atomic_store_n(&s->env->status->admin_paused_all, a->pause, __ATOMIC_RELEASE);
        } else {
            for (int i = 0; i < a->npartitions; i++) {
                s->admin_part[a->partitions[i]] = a->pause;
                pstat_set(&s->env->status->partitions[a->partitions[i]].admin_held, a->pause);
            }
        }
        for (int32_t part = 0; part < PIPELINE_MAX_PARTITIONS; part++)
            update_hold(s, part);
        round_soon(s);
        break;
    }
    case MSG_STOP_INTAKE:
        s->stopped = true;
        break;
    case MSG_CLOSE: {
        /* On this thread, since the rebalance callback runs inside it. */
        s->stopped = true;
        queue_events_off(s);
        /* A member id means a JoinGroup answered: the assignor may be set
         * without its state until an assignment arrives. */
        char *member = rd_kafka_memberid(s->consumer);
        bool joined = member != NULL && member[0] != '\0';
        rd_kafka_mem_free(s->consumer, member);
        rd_kafka_resp_err_t e = rd_kafka_consumer_close(s->consumer);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn("poller", "consumer close: %s", rd_kafka_err2str(e));
        poller_closed_msg_t *r = rt_msg_new(sizeof(*r), MSG_CLOSE);
        r->destroy_safe = s->assigned_once || !joined;
        rt_reply(msg, &r->hdr);
        break;
    }
    default:
        break;
    }
    rt_msg_free(msg);
}

static void poller_finalize(rt_actor_t *self)
{
    poller_state_t *s = rt_actor_state(self);
    queue_events_off(s);
    for (int i = 0; i < PIPELINE_MAX_PARTITIONS; i++)
        if (s->queues[i] != NULL)
            rd_kafka_queue_destroy(s->queues[i]);
    rd_kafka_queue_destroy(s->consumer_queue);
    if (s->db != NULL)
        PQfinish(s->db);
    free(s);
}

rt_actor_t *poller_spawn(const actor_env_t *env, rd_kafka_conf_t *conf, rd_kafka_t **consumer, char *err,
                         size_t errlen)
{
    poller_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_rebalance_cb(conf, poller_rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, poller_commit_cb);
    s->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (s->consumer == NULL) {
        free(s);
        return NULL;
    }
    *consumer = s->consumer;
    rd_kafka_poll_set_consumer(s->consumer);
    s->consumer_queue = rd_kafka_queue_get_consumer(s->consumer);
    /* One message per activation: a queued round never hides a pause
     * request behind a run of rounds. */
    rt_actor_opts_t o = {.name = "poller", .dedicated = true, .batch = 1, .finalizer = poller_finalize};
    s->self = rt_spawn(env->rt, poller_handler, s, &o);
    kafka_wake_init(&s->wake, s->self, MSG_POLLER_WAKE);
    kafka_wake_watch(&s->wake, s->consumer_queue);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, env->cfg->topic_raw, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(s->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* The actor exists already: the runtime frees its state with it. */
        snprintf(err, errlen, "kafka: subscribe to %s: %s", env->cfg->topic_raw, rd_kafka_err2str(e));
        return NULL;
    }
    rt_timer_start(s->self, TICK_MS, TICK_MS, NULL);
    round_soon(s);
    return s->self;
}
