/*
 * admin.c -- the admin actor: fleet-wide commands and blocking Kafka queries
 * for the control plane, on a dedicated thread.
 *
 * Commands (pause, resume) travel on the control topic, so one HTTP call
 * reaches every process of the group: each process reads the whole topic
 * from the beginning (it is small and kept a day), so a process that starts
 * later still learns the current state, and applies commands for its own
 * group to the partitions it owns, now and when assigned later (the poller
 * keeps the state). Queries that need round trips (a group's committed
 * offsets, watermarks) run here and answer the HTTP request when done.
 *
 * The control topic is read when librdkafka announces something on the
 * control consumer's queue (control_event_cb) and on a tick: no loop.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_wake.h"
#include "log.h"
#include "admin.h"
#include "classifier.h"
#include "poller.h"

#define TICK_MS 1000              /* the control topic is read at least this often */

typedef struct admin_state {
    const actor_env_t *env;
    rt_actor_t *self;
    kafka_wake_t wake;            /* the control queue wakes it (MSG_POLL) */
    rd_kafka_queue_t *control_queue;
    rd_kafka_t *control;          /* consumer of the control topic, also used for admin queries */
    int64_t started_ms;           /* wall clock: resets issued before this are history */
    uint64_t partitions_checked_ms;   /* when the input topic's partition count was last asked */
    uint64_t watermarks_ms;           /* when the owned partitions' high watermarks were last asked */
} admin_state_t;

/* reset-offsets is one-shot: a process replaying the control topic at start
 * skips resets issued before it started. Each process moves the partitions
 * it owns now. */
static void apply_reset(admin_state_t *s, json_t *cmd, int64_t offset_in_control)
{
    json_int_t issued = json_integer_value(json_object_get(cmd, "issued_at_ms"));
    if (issued < s->started_ms)
        return;
    const char *strategy = json_string_value(json_object_get(cmd, "strategy"));
    json_t *offsets = json_object_get(cmd, "offsets");
    json_t *only = json_object_get(cmd, "partitions");
    json_int_t at_ms = json_integer_value(json_object_get(cmd, "datetime_ms"));
    const char *topic = s->env->cfg->topic_raw;
    admin_reset_msg_t *r = rt_msg_new(sizeof(*r), MSG_ADMIN_RESET);
    r->n = 0;
    for (int32_t part = 0; part < PIPELINE_MAX_PARTITIONS && r->n < 256; part++) {
        if (!pstat_get(&s->env->status->partitions[part].assigned))
            continue;
        char key[16];
        snprintf(key, sizeof(key), "%d", part);
        if (json_is_object(offsets) && json_object_get(offsets, key) == NULL)
            continue;
        if (json_is_array(only)) {
            bool listed = false;
            size_t i;
            json_t *v;
            json_array_foreach(only, i, v) listed |= json_integer_value(v) == part;
            if (!listed)
                continue;
        }
        int64_t lo, hi, target;
        if (rd_kafka_query_watermark_offsets(s->control, topic, part, &lo, &hi, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            log_warn("admin", "reset: no watermarks for partition %d; left where it is", part);
            continue;
        }
        if (strcmp(strategy, "TO_EARLIEST") == 0) {
            target = lo;
        } else if (strcmp(strategy, "TO_LATEST") == 0) {
            target = hi;
        } else if (strcmp(strategy, "TO_OFFSET") == 0) {
            target = json_integer_value(json_object_get(offsets, key));
            target = target < lo ? lo : target > hi ? hi : target;
        } else {   /* TO_DATETIME: the first offset at or after the time */
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(l, topic, part)->offset = at_ms;
            rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(s->control, l, 5000);
            target = e == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[0].offset >= 0 ? l->elems[0].offset : hi;
            rd_kafka_topic_partition_list_destroy(l);
        }
        r->partitions[r->n] = part;
        r->offsets[r->n] = target;
        r->n++;
    }
    log_info("admin", "reset %s on %d owned partitions (control offset %lld)", strategy, r->n,
             (long long)offset_in_control);
    if (r->n > 0)
        rt_send_force(s->env->to->poller, r);
    else
        rt_msg_free(r);
}

static void apply_command(admin_state_t *s, const rd_kafka_message_t *m)
{
    json_error_t je;
    json_t *cmd = json_loadb(m->payload, m->len, 0, &je);
    const char *name = json_string_value(json_object_get(cmd, "cmd"));
    const char *group = json_string_value(json_object_get(cmd, "group"));
    const char *topic = json_string_value(json_object_get(cmd, "topic"));
    json_t *parts = json_object_get(cmd, "partitions");
    if (name == NULL || group == NULL) {
        log_warn("admin", "control topic offset %lld: not a command; ignored", (long long)m->offset);
        json_decref(cmd);
        return;
    }
    if (strcmp(group, s->env->cfg->group_id) != 0 || (topic != NULL && strcmp(topic, s->env->cfg->topic_raw) != 0)) {
        json_decref(cmd);   /* another group's or topic's command */
        return;
    }
    if (strcmp(name, "cancel_sync") == 0) {
        const char *id = json_string_value(json_object_get(cmd, "sync_id"));
        if (id != NULL && strlen(id) < 64) {
            sync_cancelled_msg_t *c = rt_msg_new(sizeof(*c), MSG_SYNC_CANCELLED);
            snprintf(c->sync_id, sizeof(c->sync_id), "%s", id);
            rt_send_force(s->env->to->classifier, c);
        }
        json_decref(cmd);
        return;
    }
    if (strcmp(name, "reset") == 0) {
        apply_reset(s, cmd, m->offset);
        json_decref(cmd);
        return;
    }
    bool pause = strcmp(name, "pause") == 0;
    if (!pause && strcmp(name, "resume") != 0) {
        log_warn("admin", "control topic offset %lld: unknown command; ignored", (long long)m->offset);
        json_decref(cmd);
        return;
    }
    admin_pause_msg_t *a = rt_msg_new(sizeof(*a), MSG_ADMIN_PAUSE);
    a->pause = pause;
    a->npartitions = 0;
    if (json_is_array(parts)) {
        size_t i;
        json_t *v;
        json_array_foreach(parts, i, v) {
            if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < PIPELINE_MAX_PARTITIONS &&
                a->npartitions < PIPELINE_MAX_PARTITIONS)
                a->partitions[a->npartitions++] = (int32_t)json_integer_value(v);
        }
        a->all = false;
    } else {
        a->all = true;
    }
    log_info("admin", "%s %s (control offset %lld)", name, a->all ? "all partitions" : "listed partitions",
             (long long)m->offset);
    rt_send_force(s->env->to->poller, a);
    json_decref(cmd);
}

static void poll_control(admin_state_t *s)
{
    kafka_wake_reading(&s->wake);
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(s->control, 0)) != NULL) {
        if (!m->err)
            apply_command(s, m);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn("admin", "control topic: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
}

static json_t *partition_watermarks(admin_state_t *s, const char *topic, int32_t part, int64_t *lo, int64_t *hi)
{
    if (rd_kafka_query_watermark_offsets(s->control, topic, part, lo, hi, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    return json_pack("{s:i, s:I, s:I}", "partition", part, "low", (json_int_t)*lo, "high", (json_int_t)*hi);
}

static int topic_partitions(admin_state_t *s, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(s->control, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(s->control, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return n;
}

static void answer(admin_query_msg_t *q, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    q->reply(q->ctx, status, text);
    free(text);
    json_decref(body);
}

static void topic_stats(admin_state_t *s, admin_query_msg_t *q)
{
    int n = topic_partitions(s, q->topic);
    if (n < 0) {
        answer(q, 404, json_pack("{s:s, s:s}", "error", "unknown_topic", "detail", q->topic));
        return;
    }
    json_t *parts = json_array();
    int64_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        int64_t lo = 0, hi = 0;
        json_t *w = partition_watermarks(s, q->topic, i, &lo, &hi);
        if (w == NULL)
            continue;
        json_object_set_new(w, "messages", json_integer(hi - lo));
        json_array_append_new(parts, w);
        total += hi - lo;
    }
    answer(q, 200, json_pack("{s:s, s:i, s:o, s:I}", "topic", q->topic, "partition_count", n, "partitions", parts,
                             "messages", (json_int_t)total));
}

/* Lag from the broker: high watermark minus the group's committed offset,
 * for every partition of the input topic, owned here or not, paused or not. */
static void group_lag(admin_state_t *s, admin_query_msg_t *q)
{
    const char *topic = s->env->cfg->topic_raw;
    int n = topic_partitions(s, topic);
    if (n < 0) {
        answer(q, 503, json_pack("{s:s, s:s}", "error", "kafka_unavailable", "detail", "no metadata for the topic"));
        return;
    }
    int64_t *committed = calloc((size_t)n, sizeof(*committed));
    if (committed == NULL)
        abort();
    char err[256];
    if (kafka_group_committed(s->control, q->group, topic, n, committed, 10000, err, sizeof(err)) != 0) {
        answer(q, 503, json_pack("{s:s, s:s}", "error", "kafka_unavailable", "detail", err));
    } else {
        json_t *parts = json_array();
        int64_t total = 0;
        for (int32_t i = 0; i < n; i++) {
            int64_t lo = 0, hi = 0;
            json_t *w = partition_watermarks(s, topic, i, &lo, &hi);
            if (w == NULL)
                continue;
            int64_t off = committed[i] >= 0 ? committed[i] : lo;
            int64_t lag = hi - off > 0 ? hi - off : 0;
            json_object_set_new(w, "committed", committed[i] >= 0 ? json_integer(committed[i]) : json_null());
            json_object_set_new(w, "lag", json_integer(lag));
            json_object_set_new(w, "paused_here", json_boolean(pstat_get(&s->env->status->partitions[i].paused) != 0));
            json_array_append_new(parts, w);
            total += lag;
        }
        answer(q, 200, json_pack("{s:s, s:s, s:o, s:I}", "group", q->group, "topic", topic, "partitions", parts,
                                 "total_lag", (json_int_t)total));
    }
    free(committed);
}

/* The input topic's partition count, for the HTTP plane's checks, asked
 * on this actor's own client now and then: metadata requests about the
 * input topic on the pipeline's producer or consumer slowed the pipeline
 * (every 2 s they cost a breaker test 0.35 s). */
#define PARTITION_COUNT_REFRESH_MS 60000
static void refresh_partition_count(admin_state_t *s)
{
    uint64_t now = rt_now_ms();
    if (s->partitions_checked_ms != 0 && now - s->partitions_checked_ms < PARTITION_COUNT_REFRESH_MS)
        return;
    s->partitions_checked_ms = now;
    int n = topic_partitions(s, s->env->cfg->topic_raw);
    if (n > 0)
        __atomic_store_n(&s->env->status->raw_partitions, n, __ATOMIC_RELAXED);
}

/* The high watermark of each partition this process owns, for the lag the
 * metrics and status show (right for paused partitions, whose consumer-side
 * lag stands still), on this actor's own client. */
#define WATERMARKS_REFRESH_MS 2000
static void refresh_watermarks(admin_state_t *s)
{
    uint64_t now = rt_now_ms();
    if (now - s->watermarks_ms < WATERMARKS_REFRESH_MS)
        return;
    s->watermarks_ms = now;
    for (int32_t i = 0; i < PIPELINE_MAX_PARTITIONS; i++) {
        partition_stats_t *st = env_partition(s->env, i);
        int64_t lo, hi;
        if (pstat_get(&st->assigned) &&
            rd_kafka_query_watermark_offsets(s->control, s->env->cfg->topic_raw, i, &lo, &hi, 2000) ==
                RD_KAFKA_RESP_ERR_NO_ERROR)
            pstat_set(&st->high_watermark, hi);
    }
}

static void admin_handler(rt_actor_t *self, rt_msg_t *msg)
{
    admin_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_POLL:
    case RT_MSG_TIMER:
        poll_control(s);
        refresh_partition_count(s);
        refresh_watermarks(s);
        break;
    case MSG_ADMIN_QUERY: {
        admin_query_msg_t *q = (admin_query_msg_t *)msg;
        if (q->kind == ADMIN_TOPIC_STATS)
            topic_stats(s, q);
        else
            group_lag(s, q);
        break;
    }
    default:
        break;
    }
    rt_msg_free(msg);
}

static void admin_finalize(rt_actor_t *self)
{
    admin_state_t *s = rt_actor_state(self);
    /* No wake-ups into a runtime that has stopped. */
    kafka_wake_unwatch(s->control_queue);
    rd_kafka_queue_destroy(s->control_queue);
    rd_kafka_consumer_close(s->control);
    rd_kafka_destroy(s->control);
    free(s);
}

rt_actor_t *admin_spawn(const actor_env_t *env, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf(env->cfg, env->kenv, KAFKA_ADMIN, err, errlen);
    if (conf == NULL)
        return NULL;
    char e[256], group[96];
    /* Its own group: every process reads every command. */
    snprintf(group, sizeof(group), "%s-control-%d-%ld", env->cfg->group_id, getpid(), (long)rt_now_ms());
    rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e));
    admin_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    s->started_ms = (int64_t)(now_us() / 1000);
    s->control = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (s->control == NULL) {
        free(s);
        return NULL;
    }
    rd_kafka_poll_set_consumer(s->control);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, env->cfg->topic_control, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(s->control, l);
    rd_kafka_topic_partition_list_destroy(l);
    rt_actor_opts_t o = {.name = "admin", .dedicated = true, .batch = 1, .finalizer = admin_finalize};
    s->self = rt_spawn(env->rt, admin_handler, s, &o);
    s->control_queue = rd_kafka_queue_get_consumer(s->control);
    kafka_wake_init(&s->wake, s->self, MSG_POLL);
    kafka_wake_watch(&s->wake, s->control_queue);
    rt_timer_start(s->self, TICK_MS, TICK_MS, NULL);
    rt_send_force(s->self, rt_msg_new(sizeof(rt_msg_t), MSG_POLL));
    return s->self;
}
