/*
 * partition.c -- the partition-consumer actor: one per assigned partition.
 *
 * It takes records in offset order, validates them, and releases them
 * downstream under the configured ordering: `key` (a record waits while an
 * earlier record with its key is in flight; other keys run concurrently),
 * `partition` (one at a time) or `unordered`. Completions come back in any
 * order; the offset committed is the one after the highest record below
 * which everything finished, so a crash never skips an unfinished record,
 * and the commit's metadata lists the records above it that finished too
 * (offset_map.h), so a restart or the next owner does not redo them. When
 * too many records are pending, the offset map nears its size bound, or a
 * downstream mailbox is over its high watermark, it asks the poller to
 * pause the partition. On revoke it takes nothing new, waits (bounded) for
 * what is in flight, and hands the poller its final commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq_retry.h"
#include "key_gate.h"
#include "log.h"
#include "offset_tracker.h"
#include "offset_map.h"
#include "park_set.h"
#include "partition.h"
#include "classifier.h"
#include "poller.h"
#include "publisher.h"
#include "retry_meta.h"

enum { PAUSE_INFLIGHT = PARTITION_PAUSE_INFLIGHT, PAUSE_DOWNSTREAM = PARTITION_PAUSE_DOWNSTREAM,
       PAUSE_OFFSET_MAP = PARTITION_PAUSE_OFFSET_MAP };

/* Worst case of one run of finished offsets in the map text
 * ("NNNNNNN+NNNNNN,"): pausing at 75% of the bound on this estimate never
 * lets the map overflow. Counted in runs, not offsets: records finished
 * behind one slow record form one run, so a record held long (an LLM
 * retrying) no longer stops its partition after a few hundred. */
#define MAP_BYTES_PER_RUN 16

typedef struct partition_state {
    const actor_env_t *env;
    int32_t partition;
    uint64_t generation;
    bool assigned;
    offset_tracker_t offsets;      /* taken, finished, the commit point */
    bool commit_dirty;
    uint64_t commit_timer;
    offset_map_t skip;             /* finished by an earlier owner (commit metadata) */
    offset_map_t applied;          /* rows committed in PostgreSQL (applied_offsets) */
    key_gate_t gate;               /* key order: ready records, waiting ones */
    park_set_t parks;              /* keys with records in the retry path */
    bool parks_known;              /* the retry partition's keys are read: records may start */
    int64_t parks_reported;        /* park_count as last added to the gauge */
    int inflight;                  /* released downstream, not done */
    int pause_reasons;
    bool paused;
    /* Metric deltas kept here and added to the shared counters in bulk: one
     * contended atomic per record per counter was a large share of the
     * consumption path's cost. */
    int64_t m_inflight;
    uint64_t m_records[RESULT_COUNT];
    uint64_t m_skips;
    uint64_t m_replays;
    int m_pending;
    histogram_t m_e2e;
    rt_msg_t *revoke_req;          /* revoke waiting for in-flight records */
    uint64_t revoke_timer;
} partition_state_t;

static void commit_async(partition_state_t *s)
{
    if (s->offsets.commit_next < 0 || !s->commit_dirty)
        return;
    char meta[OFFSET_MAP_MAX_BYTES];
    int64_t offset;
    tracker_commit(&s->offsets, &offset, meta, sizeof(meta));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(l, s->env->cfg->topic_raw, s->partition);
    tp->offset = offset;
    tp->metadata = strdup(meta);
    tp->metadata_size = strlen(meta);
    rd_kafka_resp_err_t e = rd_kafka_commit(s->env->consumer, l, 1);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("partition", "partition %d: commit %lld: %s", s->partition, (long long)offset, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    s->commit_dirty = false;
    pstat_set(&env_partition(s->env, s->partition)->committed, offset);
}

static void mark_changed(partition_state_t *s)
{
    s->commit_dirty = true;
    if (s->commit_timer == 0)
        s->commit_timer = rt_timer_start(rt_current_actor(), (uint64_t)s->env->cfg->commit_interval_ms, 0,
                                         &s->commit_timer);
}

static void advance_commit_point(partition_state_t *s)
{
    tracker_advance(&s->offsets);
    mark_changed(s);
}

static void request_pause(partition_state_t *s)
{
    bool want = s->pause_reasons != 0;
    if (want == s->paused || !s->assigned)
        return;
    s->paused = want;
    partition_ctl_msg_t *m = rt_msg_new(sizeof(*m), MSG_PARTITION_CTL);
    m->partition = s->partition;
    m->pause = want;
    rt_send_force(s->env->to->poller, m);
}

static bool downstream_pressured(const actor_env_t *env)
{
    if (rt_actor_pressured(env->to->classifier) || rt_actor_pressured(env->to->publisher))
        return true;
    for (int i = 0; i < env->to->nstorage; i++)
        if (rt_actor_pressured(env->to->storage[i]))
            return true;
    return false;
}

static void update_pause(partition_state_t *s)
{
    /* Taken but not committable: up to max_inflight running plus as many
     * ready behind them, so a freed slot never waits for a fetch. */
    int max = s->env->cfg->max_inflight;
    if ((int)tracker_pending(&s->offsets) >= 2 * max)
        s->pause_reasons |= PAUSE_INFLIGHT;
    else if ((int)tracker_pending(&s->offsets) <= max)
        s->pause_reasons &= ~PAUSE_INFLIGHT;
    int map_bytes = tracker_done_runs(&s->offsets) * MAP_BYTES_PER_RUN;
    if (map_bytes >= OFFSET_MAP_MAX_BYTES * 3 / 4)
        s->pause_reasons |= PAUSE_OFFSET_MAP;
    else if (map_bytes <= OFFSET_MAP_MAX_BYTES / 2)
        s->pause_reasons &= ~PAUSE_OFFSET_MAP;
    partition_stats_t *st = env_partition(s->env, s->partition);
    pstat_set(&st->incomplete, (int64_t)tracker_pending(&s->offsets));
    pstat_set(&st->inflight, s->inflight);
    pstat_set(&st->map_bytes, map_bytes);
    if (downstream_pressured(s->env))
        s->pause_reasons |= PAUSE_DOWNSTREAM;
    else
        s->pause_reasons &= ~PAUSE_DOWNSTREAM;
    pstat_set(&st->pause_why, s->pause_reasons);
    request_pause(s);
}

static const char *order_key(const partition_state_t *s, const record_t *r)
{
    return s->env->ordering == ORDER_PARTITION ? "" : r->key;
}

static void parks_changed(partition_state_t *s)
{
    int64_t n = (int64_t)park_count(&s->parks);
    if (n != s->parks_reported)
        gauge_add(&g_metrics.parked_keys, n - s->parks_reported);
    s->parks_reported = n;
}

/* An earlier record of its key is in the retry path: this one follows it
 * there instead of overtaking it. */
static void follow(partition_state_t *s, record_t *r)
{
    park_sending(&s->parks, order_key(s, r));
    r->retry = malloc(sizeof(*r->retry));
    if (r->retry == NULL)
        abort();
    retry_meta_init(r->retry, s->env->cfg->topic_raw, s->partition, r->offset);
    r->retry->follows = true;
    r->result = RESULT_RETRY;
    r->hdr.type = MSG_PUBLISH;
    rt_send_force(s->env->to->publisher, r);
}

static void release(partition_state_t *s, record_t *r)
{
    s->inflight++;
    if (s->env->ordering != ORDER_UNORDERED && park_count(&s->parks) > 0 && park_has(&s->parks, order_key(s, r))) {
        follow(s, r);
        return;
    }
    r->hdr.type = MSG_CLASSIFY;
    rt_send_force(s->env->to->classifier, r);
}

/* Releases ready records while there are in-flight slots. */
static void pump(partition_state_t *s)
{
    record_t *r;
    if (!s->parks_known)
        return;   /* a key in the retry path might be overtaken */
    while (s->inflight < s->env->cfg->max_inflight && (r = key_gate_next(&s->gate)) != NULL)
        release(s, r);
}

static void admit(partition_state_t *s, record_t *r)
{
    r->admitted = true;
    key_gate_admit(&s->gate, s->env->ordering == ORDER_UNORDERED ? NULL : order_key(s, r), r, &r->keyq);
    pump(s);
}

/* A record dropped unstarted: it was counted in flight when taken. */
static void drop_record(void *item)
{
    record_free(item);
}

static void on_done(partition_state_t *s, record_t *r);

static void flush_metrics(partition_state_t *s)
{
    if (s->m_inflight)
        env_inflight_add(s->env, s->m_inflight);
    for (int i = 0; i < RESULT_COUNT; i++)
        if (s->m_records[i])
            metric_add(&g_metrics.records[i], s->m_records[i]);
    if (s->m_skips)
        metric_add(&g_metrics.offset_map_skips, s->m_skips);
    if (s->m_replays)
        metric_add(&g_metrics.applied_replays, s->m_replays);
    if (s->m_e2e.count)
        histogram_merge(&g_metrics.end_to_end, &s->m_e2e);
    s->m_inflight = 0;
    memset(s->m_records, 0, sizeof(s->m_records));
    s->m_skips = 0;
    s->m_replays = 0;
    s->m_pending = 0;
}

/* Flushed every 256 changes and by the commit timer, so the shared figures
 * trail by at most one commit interval. */
static void metrics_changed(partition_state_t *s)
{
    if (++s->m_pending >= 256)
        flush_metrics(s);
}

static void on_record(partition_state_t *s, record_t *r, uint64_t taken_us)
{
    r->owner = rt_current_actor();
    r->taken_us = taken_us;
    tracker_take(&s->offsets, r->offset);
    s->m_inflight++;
    metrics_changed(s);
    if (offset_map_contains(&s->skip, r->offset)) {
        /* Finished before the last restart or rebalance: not again. */
        r->result = RESULT_SKIPPED;
        s->m_skips++;
        s->inflight++;
        on_done(s, r);
        return;
    }

    char err[256];
    const rd_kafka_message_t *m = r->rkm;
    bool have_key = record_read_key(r);
    if (s->env->noop) {
        /* Benchmarks of the consumption machinery: no headers, no parsing. */
        if (!have_key)
            snprintf(r->key, sizeof(r->key), "#%lld", (long long)r->offset);
        admit(s, r);
        return;
    }
    record_read_headers(r);
    if (offset_map_contains(&s->applied, r->offset)) {
        /* Its rows are committed; only its enriched event may be missing. */
        r->replay = true;
        s->m_replays++;
    }
    if (issue_event_parse(&r->event, m->payload, m->len, s->env->max_message_bytes, err,
                          sizeof(err)) != 0) {
        log_warn("partition", "partition %d offset %lld to DLQ: %s", s->partition, (long long)r->offset, err);
        s->inflight++;
        publisher_dead_letter(s->env, r, ERROR_PERMANENT, err);
        return;
    }
    if (!have_key)
        issue_event_key(&r->event, r->key, sizeof(r->key));
    admit(s, r);
}

/* A batch from the poller. Records fetched before a revoke or reset are
 * dropped: the partition's next owner, or its new position, reads them
 * again. */
static void on_records(partition_state_t *s, record_batch_msg_t *b)
{
    bool current = s->assigned && s->revoke_req == NULL && b->generation == s->generation;
    int64_t last = b->n > 0 ? b->msgs[b->n - 1]->offset : -1;   /* a record may be gone below */
    uint64_t now = now_us();
    for (int i = 0; i < b->n; i++) {
        if (current)
            on_record(s, record_new(b->msgs[i], b->generation), now);
        else
            rd_kafka_message_destroy(b->msgs[i]);
    }
    /* Records taken count at once: shutdown's drain waits on this gauge,
     * and a stalled stage moves no commit point to flush it. */
    if (s->m_inflight > 0) {
        env_inflight_add(s->env, s->m_inflight);
        s->m_inflight = 0;
    }
    partition_stats_t *st = env_partition(s->env, s->partition);
    int64_t max = s->env->cfg->max_inflight;
    int64_t left = __atomic_sub_fetch(&st->queued, b->n, __ATOMIC_ACQ_REL);
    if (left < max && left + b->n >= max)
        rt_send_force(s->env->to->poller, rt_msg_new(sizeof(rt_msg_t), MSG_POLLER_WAKE));   /* it holds this partition at max */
    if (current && b->n > 0) {
        pstat_set(&st->taken, last + 1);
        update_pause(s);
    }
    rt_msg_free(b);
}

static void finish_revoke(partition_state_t *s);

static void on_done(partition_state_t *s, record_t *r)
{
    if (r->dropped && r->generation == s->generation && s->assigned) {
        /* Given up before its partition's revoke or reset reached us: not
         * done, so its offset must not be committed; the next owner (or
         * position) reads it again. */
        s->inflight--;
        s->m_inflight--;
        bool go_on = r->admitted && s->revoke_req == NULL;
        if (go_on)
            s->m_inflight -= key_gate_abandon(&s->gate, r->keyq, drop_record);
        /* Now: no commit timer runs for records that move no commit
         * point, and a shutdown's drain watches the in-flight gauge. */
        flush_metrics(s);
        record_free(r);
        if (go_on)
            pump(s);   /* the ready records it made room for */
        if (s->revoke_req != NULL && s->inflight == 0)
            finish_revoke(s);
        return;
    }
    if (r->generation != s->generation || !s->assigned) {
        /* Finished after its partition moved on: the offset is no longer
         * ours to store; the idempotent sink absorbs the replay. */
        s->m_inflight--;
        if (!r->dropped)
            s->m_records[r->result]++;
        flush_metrics(s);   /* no commit timer runs for a partition let go */
        record_free(r);
        return;
    }
    s->inflight--;
    s->m_inflight--;
    s->m_records[r->result]++;
    metrics_changed(s);
    if (r->result == RESULT_OK && r->kafka_ts_ms > 0) {
        int64_t lat = (int64_t)now_us_coarse() - r->kafka_ts_ms * 1000;
        histogram_observe_local(&s->m_e2e, lat > 0 ? (uint64_t)lat : 0);
    }
    tracker_finish(&s->offsets, r->offset);
    if (r->result == RESULT_RETRY) {
        /* Its key stays parked until the retry path is done with it. */
        if (!r->retry->follows)
            park_sending(&s->parks, order_key(s, r));
        park_sent(&s->parks, order_key(s, r), r->partition, r->retry_offset);
        parks_changed(s);
    }
    if (r->admitted && s->revoke_req == NULL) {
        key_gate_finished(&s->gate, r->keyq);
        pump(s);
    }
    record_free(r);
    advance_commit_point(s);
    update_pause(s);
    if (s->revoke_req != NULL && s->inflight == 0)
        finish_revoke(s);
}

/* Records waiting for a key or a slot never start. */
static void drop_waiting(partition_state_t *s)
{
    s->m_inflight -= key_gate_drop_all(&s->gate, drop_record);
    flush_metrics(s);
}

/* Answers the poller's revoke with the final commit and lets go. */
static void finish_revoke(partition_state_t *s)
{
    flush_metrics(s);
    commit_state_msg_t *c = rt_msg_new(sizeof(*c), MSG_COMMIT_STATE);
    c->partition = s->partition;
    tracker_commit(&s->offsets, &c->offset, c->metadata, sizeof(c->metadata));
    if (s->inflight > 0)
        log_warn("partition", "partition %d: released with %d records still in flight; the next owner redoes them",
                 s->partition, s->inflight);
    rt_reply(s->revoke_req, c);
    rt_msg_free(s->revoke_req);
    s->revoke_req = NULL;
    if (s->revoke_timer)
        rt_timer_cancel(rt_actor_runtime(rt_current_actor()), s->revoke_timer);
    s->revoke_timer = 0;
    s->assigned = false;
    tracker_reset(&s->offsets, -1);
    pstat_set(&env_partition(s->env, s->partition)->assigned, 0);
}

/* Also a reset: records waiting from an earlier generation never start;
 * those in flight finish and are ignored by generation. */
static void on_assign(partition_state_t *s, assign_msg_t *m)
{
    drop_waiting(s);
    s->generation = m->generation;
    s->assigned = true;
    tracker_reset(&s->offsets, m->committed);
    s->inflight = 0;
    s->paused = false;
    s->pause_reasons = 0;
    s->commit_dirty = false;
    if (offset_map_decode(&s->skip, m->committed, m->metadata) != 0)
        log_warn("partition", "partition %d: unreadable offset map in the commit metadata; ignoring it",
                 s->partition);
    park_free(&s->parks);
    park_init(&s->parks);
    parks_changed(s);
    s->parks_known = s->env->to->dlq_retry == NULL || s->env->ordering == ORDER_UNORDERED;
    offset_map_free(&s->applied);
    s->applied = m->applied;
    offset_map_init(&m->applied);
    partition_stats_t *st = env_partition(s->env, s->partition);
    pstat_set(&st->assigned, 1);
    pstat_set(&st->committed, m->committed);
    log_info("partition", "partition %d from offset %lld (%zu finished runs above it, %zu applied in the database)",
             s->partition, (long long)m->committed, s->skip.n, s->applied.n);
}

/* The retry partition's backlog, by key: parked before anything starts. */
static void on_parked(partition_state_t *s, const parked_msg_t *m)
{
    if (m->generation != s->generation || !s->assigned)
        return;
    for (int i = 0; i < m->n; i++) {
        const char *key = s->env->ordering == ORDER_PARTITION ? "" : m->keys[i].key;
        park_sending(&s->parks, key);
        park_sent(&s->parks, key, m->retry_partition, m->keys[i].offset);
    }
    parks_changed(s);
    if (m->complete && !s->parks_known) {
        s->parks_known = true;
        if (park_count(&s->parks) > 0)
            log_info("partition", "partition %d: %zu keys wait in the retry path; their records follow them",
                     s->partition, park_count(&s->parks));
        pump(s);
    }
}

static void on_retry_committed(partition_state_t *s, const retry_committed_msg_t *m)
{
    if (m->generation != s->generation || !s->assigned || park_count(&s->parks) == 0)
        return;
    int n = m->retry_partition + 1;
    int64_t committed[n];
    for (int i = 0; i < n; i++)
        committed[i] = -1;
    committed[m->retry_partition] = m->committed;
    if (park_release(&s->parks, committed, n) > 0)
        parks_changed(s);
}

static void on_revoke(partition_state_t *s, rt_msg_t *msg, bool lost)
{
    /* Nothing new starts: records waiting on a key are dropped (the next
     * owner reads them again); records in flight may finish. */
    drop_waiting(s);
    if (lost || !s->assigned) {
        s->assigned = false;
        tracker_reset(&s->offsets, -1);
        pstat_set(&env_partition(s->env, s->partition)->assigned, 0);
        if (msg->reply_future != NULL || msg->reply_actor != NULL) {
            commit_state_msg_t *c = rt_msg_new(sizeof(*c), MSG_COMMIT_STATE);
            c->partition = s->partition;
            c->offset = -1;   /* nothing to commit */
            c->metadata[0] = '\0';
            rt_reply(msg, c);
        }
        rt_msg_free(msg);
        return;
    }
    s->revoke_req = msg;
    if (s->inflight == 0)
        finish_revoke(s);
    else
        s->revoke_timer = rt_timer_start(rt_current_actor(), (uint64_t)s->env->cfg->revoke_wait_ms, 0,
                                         &s->revoke_timer);
}

static void partition_handler(rt_actor_t *self, rt_msg_t *msg)
{
    partition_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_RECORDS:
        on_records(s, (record_batch_msg_t *)msg);
        return;
    case MSG_DONE:
        on_done(s, (record_t *)msg);
        return;
    case MSG_ASSIGN:
        on_assign(s, (assign_msg_t *)msg);
        break;
    case MSG_REVOKE:
        on_revoke(s, msg, ((revoke_msg_t *)msg)->lost);
        return;
    case MSG_PARKED:
        on_parked(s, (parked_msg_t *)msg);
        break;
    case MSG_RETRY_COMMITTED:
        on_retry_committed(s, (retry_committed_msg_t *)msg);
        break;
    case RT_MSG_TIMER: {
        rt_timer_msg_t *t = (rt_timer_msg_t *)msg;
        if (t->arg == &s->commit_timer) {
            s->commit_timer = 0;
            flush_metrics(s);
            if (s->assigned && s->revoke_req == NULL)
                commit_async(s);
        } else if (t->arg == &s->revoke_timer && s->revoke_req != NULL && t->timer_id == s->revoke_timer) {
            s->revoke_timer = 0;
            finish_revoke(s);
        }
        break;
    }
    case RT_MSG_PRESSURE:
        if (s->assigned)
            update_pause(s);
        break;
    default:
        break;
    }
    rt_msg_free(msg);
}

static void partition_finalize(rt_actor_t *self)
{
    partition_state_t *s = rt_actor_state(self);
    key_gate_free(&s->gate, drop_record);
    park_free(&s->parks);
    gauge_add(&g_metrics.parked_keys, -s->parks_reported);
    offset_map_free(&s->skip);
    offset_map_free(&s->applied);
    if (s->revoke_req)
        rt_msg_free(s->revoke_req);
    tracker_free(&s->offsets);
    free(s);
}

rt_actor_t *partition_spawn(const actor_env_t *env, int32_t partition)
{
    partition_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    s->partition = partition;
    tracker_init(&s->offsets);
    key_gate_init(&s->gate);
    park_init(&s->parks);
    offset_map_init(&s->skip);
    offset_map_init(&s->applied);
    /* The poller stops handing this partition records once max_inflight of
     * them wait here untaken (`queued`), so the mailbox holds at most that
     * plus one batch; the capacity only guards rt_send. */
    int hi = env->cfg->max_inflight;
    rt_actor_opts_t o = {.name = "partition-consumer", .capacity = 1 << 20, .high_watermark = hi,
                         .low_watermark = hi / 4 > 0 ? hi / 4 : 1, .finalizer = partition_finalize};
    rt_actor_t *a = rt_spawn(env->rt, partition_handler, s, &o);
    /* A partition that missed "low again" would stay paused for good. */
    int bad = rt_subscribe_pressure(env->to->classifier, a, (uint64_t)partition);
    for (int i = 0; i < env->to->nstorage; i++)
        bad |= rt_subscribe_pressure(env->to->storage[i], a, (uint64_t)partition);
    bad |= rt_subscribe_pressure(env->to->publisher, a, (uint64_t)partition);
    if (bad != 0) {
        log_error("partition", "partition %d: out of memory subscribing to downstream pressure", partition);
        abort();
    }
    return a;
}
