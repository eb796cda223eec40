/*
 * dlq_retry.c -- the DLQ-retry actor (see dlq_retry.h).
 *
 * Each retry partition is a lane: opened when its input partition is
 * assigned here (committed offset and backlog end asked of the broker),
 * scanned once for its keys, then read one record at a time. Its records
 * come from a per-partition queue that is read only when the lane is idle,
 * so a lane that waits holds one record and Kafka holds the rest (the
 * client prefetches little: queued.max.messages.kbytes).
 */
#include "dlq_retry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "kafka_wake.h"
#include "log.h"
#include "partition.h"
#include "publisher.h"
#include "retry_meta.h"

#define TICK_MS 1000
#define QUERY_TIMEOUT_MS 5000

typedef enum {
    LANE_OFF,                     /* not ours */
    LANE_OPENING,                 /* ours; the broker did not answer yet (tried on the tick) */
    LANE_SCANNING,                /* reading the backlog for its keys */
    LANE_IDLE,                    /* reading the next head */
    LANE_WAITING,                 /* the head waits until it is due */
    LANE_RUNNING,                 /* the head is in the stages */
} lane_state_t;

typedef struct lane {
    lane_state_t state;
    int32_t partition;
    uint64_t generation;
    rt_actor_t *consumer;         /* the input partition's partition-consumer */
    rd_kafka_queue_t *q;
    int64_t start;                /* the committed offset reading began at */
    int64_t scan_end;             /* the backlog's end when opened */
    int64_t committed;
    parked_msg_t *parked;         /* keys scanned, not sent yet */
    rd_kafka_message_t *head;     /* waiting for its next attempt */
    retry_meta_t meta;            /* the waiting head's */
    uint64_t timer;
} lane_t;

typedef struct dlq_retry_state {
    const actor_env_t *env;
    rt_actor_t *self;
    rd_kafka_t *rk;
    kafka_wake_t wake;
    backoff_policy_t policy;
    uint64_t rng;
    lane_t lanes[PIPELINE_MAX_PARTITIONS];
} dlq_retry_state_t;

bool dlq_retry_enabled(const config_t *cfg)
{
    return cfg->retry_attempts > 0;
}

backoff_policy_t dlq_retry_policy(const config_t *cfg)
{
    backoff_policy_t p = backoff_configured(&BACKOFF_RETRY_PATH, cfg->retry_initial_ms, cfg->retry_max_ms);
    p.max_attempts = cfg->retry_attempts;
    return p;
}

static long long wall_ms(void)
{
    return (long long)(now_us() / 1000);
}

void dlq_retry_failed(const actor_env_t *env, record_t *r, const char *error)
{
    if (r->retried) {
        /* Its owner keeps its history and decides. */
        snprintf(r->error, sizeof(r->error), "%s", error);
        r->error_class = ERROR_TRANSIENT;
        r->result = RESULT_RETRY;
        record_done(r);
        return;
    }
    if (env->to->dlq_retry == NULL) {
        publisher_dead_letter(env, r, ERROR_TRANSIENT, error);
        return;
    }
    r->retry = malloc(sizeof(*r->retry));
    if (r->retry == NULL)
        abort();
    retry_meta_init(r->retry, env->cfg->topic_raw, r->partition, r->offset);
    backoff_policy_t p = dlq_retry_policy(env->cfg);
    uint64_t rng = now_us() | 1;
    if (retry_meta_failed(r->retry, wall_ms(), error, &p, env->cfg->retry_max_age_s * 1000LL, &rng) ==
        RETRY_GIVE_UP) {
        publisher_dead_letter(env, r, ERROR_TRANSIENT, error);
        return;
    }
    snprintf(r->error, sizeof(r->error), "%s", error);
    r->error_class = ERROR_TRANSIENT;
    r->result = RESULT_RETRY;
    r->hdr.type = MSG_PUBLISH;
    rt_send_force(env->to->publisher, r);
}

static rd_kafka_topic_partition_list_t *one_partition(const dlq_retry_state_t *s, const lane_t *l, int64_t offset)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, s->env->cfg->topic_retry, l->partition)->offset = offset;
    return list;
}

static void send_parked(lane_t *l, bool complete)
{
    if (l->parked == NULL) {
        l->parked = rt_msg_new(sizeof(*l->parked), MSG_PARKED);
        l->parked->n = 0;
    }
    l->parked->generation = l->generation;
    l->parked->retry_partition = l->partition;
    l->parked->complete = complete;
    rt_send_force(l->consumer, l->parked);
    l->parked = NULL;
}

static void lane_close(dlq_retry_state_t *s, lane_t *l)
{
    if (l->state == LANE_OFF)
        return;
    if (l->timer != 0)
        rt_timer_cancel(rt_actor_runtime(s->self), l->timer);
    l->timer = 0;
    if (l->head != NULL) {
        rd_kafka_message_destroy(l->head);
        retry_meta_free(&l->meta);
        l->head = NULL;
    }
    if (l->parked != NULL)
        rt_msg_free(l->parked);
    l->parked = NULL;
    if (l->q != NULL) {
        kafka_wake_unwatch(l->q);
        rd_kafka_queue_destroy(l->q);
        l->q = NULL;
        rd_kafka_topic_partition_list_t *list = one_partition(s, l, RD_KAFKA_OFFSET_INVALID);
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(s->rk, list);
        if (e != NULL) {
            log_warn("dlq-retry", "retry partition %d: unassign: %s", l->partition, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(list);
    }
    l->state = LANE_OFF;
}

/* The lane's committed offset and backlog end; reading starts there.
 * false: ask again on the tick. */
static bool lane_open(dlq_retry_state_t *s, lane_t *l)
{
    const char *topic = s->env->cfg->topic_retry;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(s->rk, topic, l->partition, &lo, &hi, QUERY_TIMEOUT_MS);
    if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
        e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
        /* Nothing can wait there; records that would go there go to the
         * DLQ instead (the publisher's produce fails for good). */
        log_error("dlq-retry", "%s has no partition %d (%s): create it with as many partitions as %s (dispatchd "
                  "topics ensure); until then records of partition %d that fail past the in-process retries go "
                  "to the DLQ", topic, l->partition, rd_kafka_err2str(e), s->env->cfg->topic_raw, l->partition);
        send_parked(l, true);
        l->state = LANE_OFF;
        return true;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn("dlq-retry", "retry partition %d: watermarks: %s; asking again", l->partition, rd_kafka_err2str(e));
        return false;
    }
    rd_kafka_topic_partition_list_t *list = one_partition(s, l, RD_KAFKA_OFFSET_INVALID);
    e = rd_kafka_committed(s->rk, list, QUERY_TIMEOUT_MS);
    int64_t c = e == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR
                    ? list->elems[0].offset
                    : RD_KAFKA_OFFSET_INVALID;
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn("dlq-retry", "retry partition %d: committed offset: %s; asking again", l->partition,
                 rd_kafka_err2str(e));
        return false;
    }
    l->start = c >= lo ? c : lo;
    l->committed = l->start;
    l->scan_end = hi;
    l->q = rd_kafka_queue_get_partition(s->rk, topic, l->partition);
    if (l->q == NULL)
        return false;
    /* Its records stay in its own queue: read only when the lane is idle. */
    rd_kafka_queue_forward(l->q, NULL);
    kafka_wake_watch(&s->wake, l->q);
    list = one_partition(s, l, l->start);
    rd_kafka_error_t *ae = rd_kafka_incremental_assign(s->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (ae != NULL) {
        log_warn("dlq-retry", "retry partition %d: assign: %s; trying again", l->partition,
                 rd_kafka_error_string(ae));
        rd_kafka_error_destroy(ae);
        kafka_wake_unwatch(l->q);
        rd_kafka_queue_destroy(l->q);
        l->q = NULL;
        return false;
    }
    if (l->start < hi) {
        l->state = LANE_SCANNING;
        log_info("dlq-retry", "retry partition %d: %lld records waiting from offset %lld", l->partition,
                 (long long)(hi - l->start), (long long)l->start);
    } else {
        l->state = LANE_IDLE;
        send_parked(l, true);
    }
    return true;
}

/* The backlog's keys are all told: read it again from the start, now to
 * process it. */
static void scan_done(dlq_retry_state_t *s, lane_t *l)
{
    send_parked(l, true);
    rd_kafka_topic_partition_list_t *list = one_partition(s, l, l->start);
    rd_kafka_error_t *e = rd_kafka_seek_partitions(s->rk, list, QUERY_TIMEOUT_MS);
    if (e != NULL) {
        log_warn("dlq-retry", "retry partition %d: seek back to %lld: %s", l->partition, (long long)l->start,
                 rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(list);
    l->state = LANE_IDLE;
}

static void scan_take(dlq_retry_state_t *s, lane_t *l, rd_kafka_message_t *m)
{
    if (l->parked == NULL) {
        l->parked = rt_msg_new(sizeof(*l->parked), MSG_PARKED);
        l->parked->n = 0;
    }
    size_t len = m->key_len < sizeof(l->parked->keys[0].key) ? m->key_len : sizeof(l->parked->keys[0].key) - 1;
    int i = l->parked->n++;
    if (m->key != NULL)
        memcpy(l->parked->keys[i].key, m->key, len);
    l->parked->keys[i].key[m->key ? len : 0] = '\0';
    l->parked->keys[i].offset = m->offset;
    bool last = m->offset + 1 >= l->scan_end;
    rd_kafka_message_destroy(m);
    if (last)
        scan_done(s, l);
    else if (l->parked->n == PARKED_BATCH)
        send_parked(l, false);
}

/* The head leaves for the stages, its owner this actor (for the DLQ at
 * once when `bad` says what is wrong with it). */
static void run_head(dlq_retry_state_t *s, lane_t *l, const char *bad)
{
    const actor_env_t *env = s->env;
    record_t *r = record_new(l->head, l->generation);
    l->head = NULL;
    r->owner = s->self;
    r->retried = true;
    r->taken_us = now_us();
    r->retry = malloc(sizeof(*r->retry));
    if (r->retry == NULL)
        abort();
    *r->retry = l->meta;          /* moved */
    l->meta.history = NULL;
    l->state = LANE_RUNNING;
    env_inflight_add(s->env, 1);
    const rd_kafka_message_t *m = r->rkm;
    bool have_key = record_read_key(r);
    record_read_headers(r);
    char err[256];
    if (bad != NULL || issue_event_parse(&r->event, m->payload, m->len, env->max_message_bytes, err, sizeof(err)) != 0) {
        publisher_dead_letter(env, r, ERROR_PERMANENT, bad != NULL ? bad : err);
        return;
    }
    if (!have_key)
        issue_event_key(&r->event, r->key, sizeof(r->key));
    r->hdr.type = MSG_CLASSIFY;
    rt_send_force(env->to->classifier, r);
}

/* The head runs now, or when it is due. */
static void head_due(dlq_retry_state_t *s, lane_t *l)
{
    long long wait = l->meta.not_before_ms - wall_ms();
    if (wait > 0) {
        l->state = LANE_WAITING;
        l->timer = rt_timer_start(s->self, (uint64_t)wait, 0, l);
        return;
    }
    run_head(s, l, NULL);
}

static void take_head(dlq_retry_state_t *s, lane_t *l, rd_kafka_message_t *m)
{
    char err[200];
    l->head = m;
    if (retry_meta_read(&l->meta, kafka_header_view, m, err, sizeof(err)) != 0) {
        /* Not a record of the path (written by something else): kept, in
         * the DLQ, with what was wrong. */
        char why[256];
        snprintf(why, sizeof(why), "not a record of the retry path: %s", err);
        retry_meta_init(&l->meta, s->env->cfg->topic_retry, l->partition, m->offset);
        run_head(s, l, why);
        return;
    }
    head_due(s, l);
}

static void lane_read(dlq_retry_state_t *s, lane_t *l)
{
    while ((l->state == LANE_SCANNING || l->state == LANE_IDLE) && !env_stopping(s->env)) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(l->q, 0);
        if (m == NULL)
            return;
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (l->state == LANE_SCANNING)
                    scan_done(s, l);
            } else {
                log_warn("dlq-retry", "retry partition %d: %s", l->partition, rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (l->state == LANE_SCANNING)
            scan_take(s, l, m);
        else
            take_head(s, l, m);
    }
}

static void commit(dlq_retry_state_t *s, lane_t *l, int64_t next)
{
    rd_kafka_topic_partition_list_t *list = one_partition(s, l, next);
    rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, list, 0);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("dlq-retry", "retry partition %d: commit %lld: %s (the next owner redoes it; its effects are "
                 "kept once by version)", l->partition, (long long)next, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(list);
    l->committed = next;
    retry_committed_msg_t *c = rt_msg_new(sizeof(*c), MSG_RETRY_COMMITTED);
    c->generation = l->generation;
    c->retry_partition = l->partition;
    c->committed = next;
    rt_send_force(l->consumer, c);
}

static void on_done(dlq_retry_state_t *s, record_t *r)
{
    lane_t *l = r->partition >= 0 && r->partition < PIPELINE_MAX_PARTITIONS ? &s->lanes[r->partition] : NULL;
    if (l == NULL || l->state != LANE_RUNNING || l->generation != r->generation || r->dropped) {
        /* Its partition moved on: the next owner reads it again. */
        env_inflight_add(s->env, -1);
        record_free(r);
        return;
    }
    if (r->result == RESULT_RETRY) {
        if (retry_meta_failed(r->retry, wall_ms(), r->error, &s->policy, s->env->cfg->retry_max_age_s * 1000LL,
                              &s->rng) == RETRY_GIVE_UP) {
            log_warn("dlq-retry", "retry partition %d offset %lld (from %s [%d] at %lld) to the DLQ after %d "
                     "attempts: %s", l->partition, (long long)r->offset, r->retry->original_topic,
                     r->retry->original_partition, (long long)r->retry->original_offset, r->retry->attempts,
                     r->error);
            publisher_dead_letter(s->env, r, ERROR_TRANSIENT, r->error);
            return;
        }
        metric_add(&g_metrics.retry_records[RETRY_FAILED_AGAIN], 1);
        env_inflight_add(s->env, -1);
        l->meta = *r->retry;      /* moved back, with this failure */
        free(r->retry);
        r->retry = NULL;
        l->head = r->rkm;
        r->rkm = NULL;
        record_free(r);
        head_due(s, l);
        return;
    }
    metric_add(&g_metrics.retry_records[r->result == RESULT_DLQ ? RETRY_DEAD_LETTERED : RETRY_DONE], 1);
    env_inflight_add(s->env, -1);
    int64_t next = r->offset + 1;
    record_free(r);
    l->state = LANE_IDLE;
    commit(s, l, next);
    lane_read(s, l);
}

static void on_tick(dlq_retry_state_t *s)
{
    rd_kafka_poll(s->rk, 0);
    int64_t depth = 0;
    for (int p = 0; p < PIPELINE_MAX_PARTITIONS; p++) {
        lane_t *l = &s->lanes[p];
        if (l->state == LANE_OFF)
            continue;
        if (l->state == LANE_OPENING && !lane_open(s, l))
            continue;
        lane_read(s, l);
        int64_t lo, hi;
        if (l->q != NULL && rd_kafka_get_watermark_offsets(s->rk, s->env->cfg->topic_retry, p, &lo, &hi) ==
                                RD_KAFKA_RESP_ERR_NO_ERROR && hi > l->committed)
            depth += hi - l->committed;
    }
    __atomic_store_n(&g_metrics.retry_queue_depth, depth, __ATOMIC_RELAXED);
}

static void dlq_retry_handler(rt_actor_t *self, rt_msg_t *msg)
{
    dlq_retry_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_DONE:
        on_done(s, (record_t *)msg);
        return;
    case MSG_RETRY_ASSIGN: {
        retry_assign_msg_t *a = (retry_assign_msg_t *)msg;
        if (a->partition >= 0 && a->partition < PIPELINE_MAX_PARTITIONS) {
            lane_t *l = &s->lanes[a->partition];
            lane_close(s, l);
            l->partition = a->partition;
            l->generation = a->generation;
            l->consumer = a->consumer;
            l->state = LANE_OPENING;
            if (lane_open(s, l))
                lane_read(s, l);
        }
        break;
    }
    case MSG_RETRY_REVOKE: {
        retry_revoke_msg_t *r = (retry_revoke_msg_t *)msg;
        if (r->partition >= 0 && r->partition < PIPELINE_MAX_PARTITIONS)
            lane_close(s, &s->lanes[r->partition]);
        break;
    }
    case MSG_RETRY_POLL:
        kafka_wake_reading(&s->wake);
        for (int p = 0; p < PIPELINE_MAX_PARTITIONS; p++)
            if (s->lanes[p].state == LANE_SCANNING || s->lanes[p].state == LANE_IDLE)
                lane_read(s, &s->lanes[p]);
        break;
    case RT_MSG_TIMER: {
        rt_timer_msg_t *t = (rt_timer_msg_t *)msg;
        lane_t *l = t->arg;
        if (l == NULL) {
            on_tick(s);
        } else if (l->state == LANE_WAITING && l->timer == t->timer_id) {
            l->timer = 0;
            if (!env_stopping(s->env))
                run_head(s, l, NULL);
        }
        break;
    }
    default:
        break;
    }
    rt_msg_free(msg);
}

static void dlq_retry_finalize(rt_actor_t *self)
{
    dlq_retry_state_t *s = rt_actor_state(self);
    for (int p = 0; p < PIPELINE_MAX_PARTITIONS; p++)
        lane_close(s, &s->lanes[p]);
    rd_kafka_consumer_close(s->rk);
    rd_kafka_destroy(s->rk);
    free(s);
}

rt_actor_t *dlq_retry_spawn(const actor_env_t *env, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf(env->cfg, env->kenv, KAFKA_ADMIN, err, errlen);
    if (conf == NULL)
        return NULL;
    char e[256], group[300];
    /* Assigned by hand (the input's assignment decides), committed under a
     * group of its own that nobody joins. */
    snprintf(group, sizeof(group), "%s-retry", env->cfg->group_id);
    rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", e, sizeof(e));
    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", e, sizeof(e));
    rd_kafka_conf_set(conf, "queued.max.messages.kbytes", "1024", e, sizeof(e));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "100", e, sizeof(e));
    dlq_retry_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    s->policy = dlq_retry_policy(env->cfg);
    s->rng = now_us() | 1;
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (s->rk == NULL) {
        free(s);
        return NULL;
    }
    rt_actor_opts_t o = {.name = "dlq-retry", .dedicated = true, .finalizer = dlq_retry_finalize};
    s->self = rt_spawn(env->rt, dlq_retry_handler, s, &o);
    kafka_wake_init(&s->wake, s->self, MSG_RETRY_POLL);
    rt_timer_start(s->self, TICK_MS, TICK_MS, NULL);
    return s->self;
}
