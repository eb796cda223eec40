/*
 * broadcaster.c -- the broadcaster actor (see broadcaster.h).
 *
 * The enriched topic is read when librdkafka announces something on the
 * client's queue and on a tick; sync changes arrive as NOTIFYs on a LISTEN
 * connection whose socket the runtime watches. Nothing here waits: a lost
 * database connection is retried on the tick with BACKOFF_SYNC_LISTEN, and
 * when the event loop falls behind (too many batches pending) the topic is
 * simply not read until it catches up -- Kafka holds the rest.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backoff.h"
#include "broadcaster.h"
#include "kafka_wake.h"
#include "log.h"
#include "schema.h"
#include "strmap.h"
#include "timefmt.h"

#define TICK_MS 100
#define POLL_BATCH 512                 /* records read per turn, one batch for the loop */
#define MAX_PENDING_BATCHES 4          /* the loop is behind: read no more until it catches up */
#define PROGRESS_INTERVAL_MS 250       /* sync_progress: at most 4 a second per sync */
#define PROGRESS_FORGET_MS 600000      /* a sync silent this long is forgotten */
#define PARTITIONS_REFRESH_MS 60000
#define TAG_LISTEN 1

typedef struct progress {
    ws_msg_t *pending;                 /* the latest, not sent yet; NULL when none */
    char repo[WS_ACCESS_NAME_MAX];
    char user[128];
    uint64_t sent_ms;                  /* when the last one went out */
} progress_t;

typedef struct broadcaster_state {
    const actor_env_t *env;
    rt_actor_t *self;
    ws_feed_t *feed;
    kafka_wake_t wake;                 /* the enriched queue wakes it (MSG_BROADCASTER_POLL) */
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int partitions;                    /* of the enriched topic, assigned from the end */
    uint64_t partitions_checked_ms;
    PGconn *pg;                        /* LISTEN dispatchd_syncs; NULL while lost */
    int pg_retry;
    uint64_t pg_retry_at_ms;
    uint64_t rng;
    strmap_t syncs;                    /* sync id -> progress_t */
} broadcaster_state_t;

static void publish_one(broadcaster_state_t *s, ws_msg_t *msg, bool sync, const char *repo, const char *user)
{
    ws_batch_t *b = ws_batch_new(1);
    ws_event_t *e = &b->ev[b->n++];
    e->msg = msg;
    e->sync = sync;
    snprintf(e->repo, sizeof(e->repo), "%s", repo);
    snprintf(e->user, sizeof(e->user), "%s", user);
    ws_feed_publish(s->feed, b);
}

/* issue_update for what changes an issue's state or metadata; the rest
 * (opened, edited, a synced issue, a comment) brought text that was
 * classified anew: classification_update. Both carry the same data. */
static const char *message_type(const char *action)
{
    static const char *const STATE_ONLY[] = {"closed", "labeled", "unlabeled", "assigned", "unassigned",
                                             "milestoned", "demilestoned", "locked", "unlocked", "pinned",
                                             "unpinned", "deleted", "transferred"};
    for (size_t i = 0; action != NULL && i < sizeof(STATE_ONLY) / sizeof(STATE_ONLY[0]); i++)
        if (strcmp(action, STATE_ONLY[i]) == 0)
            return "issue_update";
    return "classification_update";
}

/* One enriched record as a message: what a dashboard shows of the issue
 * and its classification. false: not an enriched event (skipped; the
 * pipeline wrote it, so this does not happen unless someone else writes
 * the topic). */
static bool encode_enriched(const rd_kafka_message_t *m, ws_event_t *e)
{
    json_error_t je;
    json_t *root = json_loadb(m->payload, m->len, 0, &je);
    json_t *repo = json_object_get(root, "repository"), *issue = json_object_get(root, "issue");
    json_t *cls = json_object_get(root, "classification"), *meta = json_object_get(root, "processing_metadata");
    const char *full = json_string_value(json_object_get(repo, "full_name"));
    if (full == NULL || strlen(full) >= sizeof(e->repo) || !json_is_object(issue) || !json_is_object(cls)) {
        json_decref(root);
        return false;
    }
    char sync_id[64], user[128];
    const char *sid = kafka_header(m, "sync_id", sync_id, sizeof(sync_id));
    const char *uid = kafka_header(m, "user_id", user, sizeof(user));
    const char *action = json_string_value(json_object_get(root, "action"));
    json_t *data = json_pack("{s:s, s:O?, s:O?, s:O?, s:s?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:s?}",
                             "repository", full, "issue_number", json_object_get(issue, "number"), "title",
                             json_object_get(issue, "title"), "state", json_object_get(issue, "state"), "action",
                             action, "html_url", json_object_get(issue, "html_url"), "updated_at",
                             json_object_get(issue, "updated_at"), "category", json_object_get(cls, "category"),
                             "priority", json_object_get(cls, "priority"), "severity", json_object_get(cls, "severity"),
                             "estimated_effort", json_object_get(cls, "estimated_effort"), "component",
                             json_object_get(cls, "component"), "confidence", json_object_get(cls, "confidence"),
                             "provider", json_object_get(meta, "provider"), "sync_id", sid);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    snprintf(e->repo, sizeof(e->repo), "%s", full);
    snprintf(e->user, sizeof(e->user), "%s", uid ? uid : "");
    const char *type = message_type(action);
    json_decref(root);   /* full and action pointed into it */
    if (text == NULL)
        return false;
    /* The record's time is when the publisher sent it: after the
     * classification was stored. */
    rd_kafka_timestamp_type_t tt;
    int64_t ms = rd_kafka_message_timestamp(m, &tt);
    char ts[ISO8601_LEN];
    if (ms > 0)
        iso8601_ms(ts, sizeof(ts), (long long)ms);
    else
        iso8601_now(ts, sizeof(ts));
    e->msg = ws_msg_new(type, ts, text);
    free(text);
    e->sync = false;
    return true;
}

/* Assigns the enriched topic's partitions not assigned yet, from the end:
 * a process starting now shows what happens from now. */
static void assign_partitions(broadcaster_state_t *s)
{
    uint64_t now = rt_now_ms();
    if (s->partitions > 0 && now - s->partitions_checked_ms < PARTITIONS_REFRESH_MS)
        return;
    s->partitions_checked_ms = now;
    const char *topic = s->env->cfg->topic_enriched;
    rd_kafka_topic_t *t = rd_kafka_topic_new(s->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(s->rk, 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    if (n <= s->partitions)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n - s->partitions);
    for (int p = s->partitions; p < n; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_error_t *err = rd_kafka_incremental_assign(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err != NULL) {
        log_warn("broadcaster", "assigning %s: %s", topic, rd_kafka_error_string(err));
        rd_kafka_error_destroy(err);
        return;
    }
    log_info("broadcaster", "reading %s partitions %d..%d from the end", topic, s->partitions, n - 1);
    s->partitions = n;
}

static void read_enriched(broadcaster_state_t *s)
{
    kafka_wake_reading(&s->wake);
    if (ws_feed_pending(s->feed) > MAX_PENDING_BATCHES)
        return;   /* the tick comes back */
    bool watched = ws_feed_clients(s->feed) > 0;
    ws_batch_t *b = watched ? ws_batch_new(POLL_BATCH) : NULL;
    int taken = 0;
    rd_kafka_message_t *m;
    while (taken < POLL_BATCH && (m = rd_kafka_consumer_poll(s->rk, 0)) != NULL) {
        taken++;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (b != NULL && encode_enriched(m, &b->ev[b->n]))
                b->n++;
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_warn("broadcaster", "%s: %s", s->env->cfg->topic_enriched, rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
    if (b != NULL)
        ws_feed_publish(s->feed, b);
    if (taken == POLL_BATCH)   /* more waiting: another turn, after the mailbox */
        rt_send_force(s->self, rt_msg_new(sizeof(rt_msg_t), MSG_BROADCASTER_POLL));
}

static void send_progress(broadcaster_state_t *s, progress_t *p, uint64_t now)
{
    publish_one(s, p->pending, true, p->repo, p->user);
    p->pending = NULL;
    p->sent_ms = now;
}

static void forget_sync(broadcaster_state_t *s, const char *id)
{
    progress_t *p = strmap_remove(&s->syncs, id);
    if (p != NULL) {
        ws_msg_unref(p->pending);
        free(p);
    }
}

/* A NOTIFY from the sync_notify trigger: its payload is the message's data. */
static void on_sync_change(broadcaster_state_t *s, const char *payload)
{
    json_t *j = json_loads(payload, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "sync_id"));
    const char *user = json_string_value(json_object_get(j, "user_id"));
    const char *repo = json_string_value(json_object_get(j, "repository"));
    const char *status = json_string_value(json_object_get(j, "status"));
    if (id == NULL || user == NULL || repo == NULL || status == NULL) {
        json_decref(j);
        return;
    }
    bool progress = strcmp(status, "pending") == 0 || strcmp(status, "syncing") == 0;
    /* A failed sync ends like a completed one; data.status says which. */
    const char *type = progress ? "sync_progress" : strcmp(status, "cancelled") == 0 ? "sync_cancelled"
                                                                                     : "sync_completed";
    if (!progress)
        forget_sync(s, id);   /* the end carries the final counts: progress not sent yet is moot */
    if (ws_feed_clients(s->feed) == 0) {
        json_decref(j);
        return;
    }
    char ts[ISO8601_LEN];
    iso8601_now(ts, sizeof(ts));
    char *data = json_dumps(j, JSON_COMPACT);
    ws_msg_t *msg = ws_msg_new(type, ts, data);
    free(data);
    uint64_t now = rt_now_ms();
    if (!progress) {
        publish_one(s, msg, true, repo, user);
        json_decref(j);
        return;
    }
    progress_t *p = strmap_get(&s->syncs, id);
    if (p == NULL) {
        p = calloc(1, sizeof(*p));
        if (p == NULL)
            abort();
        snprintf(p->repo, sizeof(p->repo), "%s", repo);
        snprintf(p->user, sizeof(p->user), "%s", user);
        strmap_put(&s->syncs, id, p);
    }
    ws_msg_unref(p->pending);
    p->pending = msg;
    if (now - p->sent_ms >= PROGRESS_INTERVAL_MS)
        send_progress(s, p, now);
    json_decref(j);
}

static void flush_progress(broadcaster_state_t *s)
{
    uint64_t now = rt_now_ms();
    for (size_t i = 0; i < s->syncs.cap; i++) {
        strmap_entry_t *e = &s->syncs.slots[i];
        if (e->key == NULL || e->value == NULL)
            continue;
        progress_t *p = e->value;
        if (p->pending != NULL && now - p->sent_ms >= PROGRESS_INTERVAL_MS)
            send_progress(s, p, now);
        else if (p->pending == NULL && now - p->sent_ms >= PROGRESS_FORGET_MS)
            forget_sync(s, e->key);
    }
}

/* The next connection attempt, after BACKOFF_SYNC_LISTEN's delay. */
static void listen_later(broadcaster_state_t *s)
{
    s->pg_retry_at_ms = rt_now_ms() + backoff_delay_ms(&BACKOFF_SYNC_LISTEN, ++s->pg_retry, &s->rng);
}

static void listen_lost(broadcaster_state_t *s, const char *why)
{
    log_warn("broadcaster", "sync changes: %s; reconnecting", why);
    rt_unwatch_fd(s->self, PQsocket(s->pg));
    PQfinish(s->pg);
    s->pg = NULL;
    listen_later(s);
}

static void listen_connect(broadcaster_state_t *s)
{
    if (s->pg != NULL || rt_now_ms() < s->pg_retry_at_ms)
        return;
    char err[256];
    s->pg = pg_connect(s->env->cfg->database_url, err, sizeof(err));
    if (s->pg == NULL) {
        if (s->pg_retry == 0)
            log_warn("broadcaster", "sync changes: %s; retrying", err);
        listen_later(s);
        return;
    }
    if (!pg_command(s->pg, "LISTEN dispatchd_syncs") || PQsetnonblocking(s->pg, 1) != 0 ||
        rt_watch_fd(s->self, PQsocket(s->pg), EPOLLIN, TAG_LISTEN) != 0) {
        PQfinish(s->pg);
        s->pg = NULL;
        listen_later(s);
        return;
    }
    if (s->pg_retry > 0)
        log_info("broadcaster", "sync changes: listening again");
    s->pg_retry = 0;
}

static void listen_read(broadcaster_state_t *s)
{
    if (s->pg == NULL)
        return;
    if (!PQconsumeInput(s->pg)) {
        char why[200];
        const char *m = PQerrorMessage(s->pg);
        snprintf(why, sizeof(why), "%.*s", (int)strcspn(m, "\n"), m);
        listen_lost(s, why);
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(s->pg)) != NULL) {
        on_sync_change(s, n->extra);
        PQfreemem(n);
    }
}

static void broadcaster_handler(rt_actor_t *self, rt_msg_t *msg)
{
    broadcaster_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case RT_MSG_TIMER:
        assign_partitions(s);
        listen_connect(s);
        flush_progress(s);
        read_enriched(s);
        break;
    case MSG_BROADCASTER_POLL:
        read_enriched(s);
        break;
    case RT_MSG_IO:
        listen_read(s);
        break;
    default:
        break;
    }
    rt_msg_free(msg);
}

static void broadcaster_finalize(rt_actor_t *self)
{
    broadcaster_state_t *s = rt_actor_state(self);
    kafka_wake_unwatch(s->queue);
    rd_kafka_queue_destroy(s->queue);
    rd_kafka_consumer_close(s->rk);
    rd_kafka_destroy(s->rk);
    if (s->pg != NULL) {
        rt_unwatch_fd(self, PQsocket(s->pg));
        PQfinish(s->pg);
    }
    for (size_t i = 0; i < s->syncs.cap; i++) {
        progress_t *p = s->syncs.slots[i].key ? s->syncs.slots[i].value : NULL;
        if (p != NULL) {
            ws_msg_unref(p->pending);
            free(p);
        }
    }
    strmap_free(&s->syncs);
    free(s);
}

rt_actor_t *broadcaster_spawn(const actor_env_t *env, ws_feed_t *feed, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf(env->cfg, env->kenv, KAFKA_ADMIN, err, errlen);
    if (conf == NULL)
        return NULL;
    char e[256], group[96];
    /* A group id of its own that never commits: every process reads every
     * partition, and nothing of this reader is remembered. */
    snprintf(group, sizeof(group), "%s-broadcast-%d-%ld", env->cfg->group_id, getpid(), (long)rt_now_ms());
    rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", e, sizeof(e));
    /* Little prefetched: latency matters here, not batches, and what is
     * not read yet waits in Kafka, not in this process. */
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "100", e, sizeof(e));
    rd_kafka_conf_set(conf, "queued.max.messages.kbytes", "2048", e, sizeof(e));
    rd_kafka_conf_set(conf, "queued.min.messages", "2000", e, sizeof(e));
    broadcaster_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    s->feed = feed;
    s->rng = now_us() | 1;
    strmap_init(&s->syncs);
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (s->rk == NULL) {
        strmap_free(&s->syncs);
        free(s);
        return NULL;
    }
    rd_kafka_poll_set_consumer(s->rk);
    rt_actor_opts_t o = {.name = "broadcaster", .dedicated = true, .batch = 1, .finalizer = broadcaster_finalize};
    s->self = rt_spawn(env->rt, broadcaster_handler, s, &o);
    s->queue = rd_kafka_queue_get_consumer(s->rk);
    kafka_wake_init(&s->wake, s->self, MSG_BROADCASTER_POLL);
    kafka_wake_watch(&s->wake, s->queue);
    rt_timer_start(s->self, 0, TICK_MS, NULL);
    return s->self;
}
