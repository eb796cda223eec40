/*
 * poller.c -- the consumer poller: a dedicated actor that owns the
 * rd_kafka_t consumer. Each MSG_POLL it polls one batch and hands records to
 * their partition-consumer actors, then queues the next MSG_POLL behind any
 * pause/resume requests, so those are served between batches. Polling goes
 * on while partitions are paused, so max.poll.interval.ms is never exceeded.
 * Rebalance callbacks run here too (inside rd_kafka_consumer_poll).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "log.h"
#include "pipeline.h"

#define POLL_BATCH 500
#define POLL_WAIT_MS 50

typedef struct poller_state {
    pipeline_t *p;
    uint64_t generation[PIPELINE_MAX_PARTITIONS];
    bool paused[PIPELINE_MAX_PARTITIONS];      /* as librdkafka has it */
    bool wants_pause[PIPELINE_MAX_PARTITIONS]; /* asked by the partition-consumer */
    bool assigned[PIPELINE_MAX_PARTITIONS];
    bool stopped;
} poller_state_t;


/* A partition is paused while its consumer asks for it or its mailbox is
 * over the high watermark (records fetched faster than it takes them). */
static void apply_pause(poller_state_t *s, int32_t partition)
{
    if (partition < 0 || partition >= PIPELINE_MAX_PARTITIONS || !s->assigned[partition])
        return;
    bool pause = s->wants_pause[partition] || rt_actor_pressured(s->p->partitions[partition]);
    if (s->paused[partition] == pause)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, s->p->cfg->topic_raw, partition);
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(s->p->consumer, l)
                                  : rd_kafka_resume_partitions(s->p->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn("poller", "%s partition %d: %s", pause ? "pause" : "resume", partition, rd_kafka_err2str(e));
        return;
    }
    s->paused[partition] = pause;
    gauge_add(&g_metrics.partitions_paused, pause ? 1 : -1);
    pstat_set(&s->p->pstats[partition].paused, pause);
    log_debug("poller", "%s partition %d", pause ? "paused" : "resumed", partition);
}

static void on_assign(poller_state_t *s, rd_kafka_topic_partition_list_t *parts)
{
    pipeline_t *p = s->p;
    /* Where each partition resumes, and what above that already finished:
     * the committed offset and its metadata (the offset map). */
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t ce = rd_kafka_committed(p->consumer, committed, 10000);
    if (ce != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("poller", "reading committed offsets: %s; starting without offset maps", rd_kafka_err2str(ce));
    for (int i = 0; i < parts->cnt; i++) {
        int32_t part = parts->elems[i].partition;
        if (part < 0 || part >= PIPELINE_MAX_PARTITIONS || strcmp(parts->elems[i].topic, p->cfg->topic_raw))
            continue;
        if (p->partitions[part] == NULL) {
            p->partitions[part] = partition_actor_spawn(p, part);
            rt_subscribe_pressure(p->partitions[part], rt_current_actor(), (uint64_t)part);
        }
        assign_msg_t *m = rt_msg_new(sizeof(*m), MSG_ASSIGN);
        m->generation = ++s->generation[part];
        m->committed = -1;
        m->metadata[0] = '\0';
        rd_kafka_topic_partition_t *c =
            ce == RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_topic_partition_list_find(committed, p->cfg->topic_raw, part)
                                             : NULL;
        if (c != NULL && c->err == RD_KAFKA_RESP_ERR_NO_ERROR && c->offset >= 0) {
            m->committed = c->offset;
            if (c->metadata != NULL && c->metadata_size < sizeof(m->metadata)) {
                memcpy(m->metadata, c->metadata, c->metadata_size);
                m->metadata[c->metadata_size] = '\0';
            }
        }
        rt_send_force(p->partitions[part], m);
        if (!s->assigned[part])
            gauge_add(&g_metrics.partitions_assigned, 1);
        s->assigned[part] = true;
        s->paused[part] = false;
        s->wants_pause[part] = false;
        log_info("poller", "assigned %s [%d]", parts->elems[i].topic, part);
    }
    rd_kafka_topic_partition_list_destroy(committed);
}

/* Revoked: each partition stops taking work, waits (bounded) for what is in
 * flight and answers with its final commit, which goes out synchronously
 * before the partitions are released. Lost: no waiting and no commit, since
 * another member may own them already. */
static void on_revoke(poller_state_t *s, rd_kafka_topic_partition_list_t *parts, bool lost)
{
    pipeline_t *p = s->p;
    rt_future_t *futures[PIPELINE_MAX_PARTITIONS];
    int32_t which[PIPELINE_MAX_PARTITIONS];
    int nf = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t part = parts->elems[i].partition;
        if (part < 0 || part >= PIPELINE_MAX_PARTITIONS || p->partitions[part] == NULL)
            continue;
        if (s->paused[part]) {
            gauge_add(&g_metrics.partitions_paused, -1);
            pstat_set(&p->pstats[part].paused, 0);
        }
        if (s->assigned[part])
            gauge_add(&g_metrics.partitions_assigned, -1);
        s->paused[part] = false;
        s->assigned[part] = false;
        s->generation[part]++;
        revoke_msg_t *m = rt_msg_new(sizeof(*m), MSG_REVOKE);
        m->lost = lost;
        if (lost) {
            rt_send_force(p->partitions[part], m);
        } else {
            futures[nf] = rt_future_new();
            which[nf] = part;
            m->hdr.reply_future = futures[nf];
            m->hdr.reply_actor = NULL;
            rt_send_force(p->partitions[part], m);
            nf++;
        }
        log_info("poller", "%s %s [%d]", lost ? "lost" : "revoked", parts->elems[i].topic, part);
    }
    if (nf == 0)
        return;
    rd_kafka_topic_partition_list_t *commit = rd_kafka_topic_partition_list_new(nf);
    for (int i = 0; i < nf; i++) {
        commit_state_msg_t *c = (commit_state_msg_t *)rt_future_wait(futures[i], p->cfg->revoke_wait_ms + 5000);
        if (c == NULL) {
            log_warn("poller", "partition %d did not answer its revoke; its uncommitted records will be redone",
                     which[i]);
            continue;
        }
        if (c->offset >= 0) {
            rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(commit, p->cfg->topic_raw, c->partition);
            tp->offset = c->offset;
            tp->metadata = strdup(c->metadata);
            tp->metadata_size = strlen(c->metadata);
        }
        rt_msg_free(c);
    }
    /* The hand-over commit is the one that decides what the next owner
     * redoes: retry it through a coordinator moving or loading. */
    for (int attempt = 1; commit->cnt > 0; attempt++) {
        rd_kafka_resp_err_t e = rd_kafka_commit(p->consumer, commit, 0);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        bool retriable = e == RD_KAFKA_RESP_ERR_NOT_COORDINATOR || e == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                         e == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                         e == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT || e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                         e == RD_KAFKA_RESP_ERR__TRANSPORT;
        if (!retriable || attempt == 5) {
            log_warn("poller", "commit on revoke: %s; the next owner redoes the uncommitted records",
                     rd_kafka_err2str(e));
            break;
        }
        log_info("poller", "commit on revoke: %s; retrying", rd_kafka_err2str(e));
        usleep(200000);
    }
    rd_kafka_topic_partition_list_destroy(commit);
}

/* Results of the partitions' asynchronous commits, served by poll here. */
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                      void *opaque)
{
    (void)rk;
    (void)opaque;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("poller", "offset commit: %s", rd_kafka_err2str(err));
    for (int i = 0; offsets && i < offsets->cnt; i++)
        if (offsets->elems[i].err)
            log_warn("poller", "offset commit [%d]: %s", offsets->elems[i].partition,
                     rd_kafka_err2str(offsets->elems[i].err));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    poller_state_t *s = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    metric_add(&g_metrics.rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(s, parts);
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) {
                log_error("poller", "incremental assign: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_assign(rk, parts);
        }
    } else {
        on_revoke(s, parts, rd_kafka_assignment_lost(rk));
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            if (e) {
                log_error("poller", "incremental unassign: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_assign(rk, NULL);
        }
    }
}

static void dispatch(poller_state_t *s, rd_kafka_message_t *m)
{
    pipeline_t *p = s->p;
    int32_t part = m->partition;
    if (part < 0 || part >= PIPELINE_MAX_PARTITIONS || p->partitions[part] == NULL || !s->assigned[part]) {
        rd_kafka_message_destroy(m);
        return;
    }
    record_t *r = rt_msg_new(sizeof(*r), MSG_RECORD);
    memset((char *)r + sizeof(rt_msg_t), 0, sizeof(*r) - sizeof(rt_msg_t));
    r->partition = part;
    r->offset = m->offset;
    r->rkm = m;
    r->generation = s->generation[part];
    rd_kafka_timestamp_type_t tst;
    r->kafka_ts_ms = rd_kafka_message_timestamp(m, &tst);
    kafka_header(m, "correlation_id", r->correlation_id, sizeof(r->correlation_id));
    kafka_header(m, "sync_id", r->sync_id, sizeof(r->sync_id));
    kafka_header(m, "user_id", r->user_id, sizeof(r->user_id));
    /* Forced, then checked: a partition whose mailbox passed its high
     * watermark is paused right here, which also drops what librdkafka had
     * prefetched for it, so the overshoot is one message, not a batch. */
    rt_send_force(p->partitions[part], r);
    if (!s->paused[part] && rt_actor_pressured(p->partitions[part]))
        apply_pause(s, part);
}

static void poll_batch(poller_state_t *s)
{
    rd_kafka_t *rk = s->p->consumer;
    for (int i = 0; i < POLL_BATCH; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, i == 0 ? POLL_WAIT_MS : 0);
        if (m == NULL)
            return;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_warn("poller", "consume: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        dispatch(s, m);
    }
}

static void poller_handler(rt_actor_t *self, rt_msg_t *msg)
{
    poller_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_POLL:
        if (!s->stopped) {
            poll_batch(s);
            rt_send_force(self, msg);
            return;
        }
        break;
    case MSG_PARTITION_CTL: {
        partition_ctl_msg_t *c = (partition_ctl_msg_t *)msg;
        if (c->partition >= 0 && c->partition < PIPELINE_MAX_PARTITIONS) {
            s->wants_pause[c->partition] = c->pause;
            apply_pause(s, c->partition);
        }
        break;
    }
    case RT_MSG_PRESSURE:
        apply_pause(s, (int32_t)((rt_pressure_msg_t *)msg)->tag);
        break;
    case MSG_STOP_INTAKE:
        s->stopped = true;
        break;
    case MSG_CLOSE: {
        /* On this thread, since the rebalance callback runs inside it. */
        s->stopped = true;
        rd_kafka_resp_err_t e = rd_kafka_consumer_close(s->p->consumer);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn("poller", "consumer close: %s", rd_kafka_err2str(e));
        rt_reply(msg, rt_msg_new(sizeof(rt_msg_t), MSG_CLOSE));
        break;
    }
    default:
        break;
    }
    rt_msg_free(msg);
}

static void poller_finalize(rt_actor_t *self)
{
    free(rt_actor_state(self));
}

rt_actor_t *poller_spawn(pipeline_t *p, rd_kafka_conf_t *conf, char *err, size_t errlen)
{
    poller_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->p = p;
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    p->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (p->consumer == NULL) {
        free(s);
        return NULL;
    }
    rd_kafka_poll_set_consumer(p->consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, p->cfg->topic_raw, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(p->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka: subscribe to %s: %s", p->cfg->topic_raw, rd_kafka_err2str(e));
        rd_kafka_destroy(p->consumer);
        p->consumer = NULL;
        free(s);
        return NULL;
    }
    /* One message per activation: the self-sent MSG_POLL then never hides
     * a queued pause request behind a run of polls. */
    rt_actor_opts_t o = {.name = "poller", .dedicated = true, .batch = 1, .finalizer = poller_finalize};
    rt_actor_t *a = rt_spawn(p->rt, poller_handler, s, &o);
    rt_send_force(a, rt_msg_new(sizeof(rt_msg_t), MSG_POLL));
    return a;
}
