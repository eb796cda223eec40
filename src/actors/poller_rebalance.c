/*
 * poller_rebalance.c -- the poller's side of the group protocol, run inside
 * librdkafka's callbacks on the poller's thread: on assignment, where each
 * partition resumes (the committed offset and its offset map, the applied
 * offsets the ledger has, after reconciling published events) and its
 * partition-consumer; on revocation, the in-flight wait and the hand-over
 * commit; the results of the partitions' own commits (pruning the ledger).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "dlq_retry.h"
#include "ledger.h"
#include "log.h"
#include "partition.h"
#include "poller_internal.h"
#include "reconcile.h"
#include "schema.h"
#include "storage.h"

/* The poller's database connection, made when first needed. */
static PGconn *poller_db(poller_state_t *s)
{
    char err[256];
    if (s->db == NULL && (s->db = pg_connect(s->env->cfg->database_url, err, sizeof(err))) == NULL)
        log_warn("poller", "no database for assignment: %s", err);
    return s->db;
}

static void add_applied(void *ctx, int32_t partition, int64_t offset)
{
    offset_map_add(&((offset_map_t *)ctx)[partition], offset);
}

/* The offsets at or above each partition's committed one whose rows
 * PostgreSQL has (the ledger's applied offsets), into maps[partition].
 * Without the database the maps stay empty: replays are then still
 * idempotent, but a record stored just before a crash would be classified
 * again. */
static void read_applied(poller_state_t *s, rd_kafka_topic_partition_list_t *parts, const int64_t *committed,
                         offset_map_t *maps)
{
    int32_t list[PIPELINE_MAX_PARTITIONS];
    int n = 0;
    for (int i = 0; i < parts->cnt && n < PIPELINE_MAX_PARTITIONS; i++)
        list[n++] = parts->elems[i].partition;
    ledger_scope_t scope = {.group = s->env->cfg->group_id, .topic = s->env->cfg->topic_raw};
    for (int attempt = 1; backoff_may_attempt(&BACKOFF_APPLIED_READ, attempt); attempt++) {
        if (poller_db(s) == NULL)
            break;
        if (ledger_read_applied(&scope, s->db, list, n, committed, PIPELINE_MAX_PARTITIONS, add_applied, maps))
            break;
        PQfinish(s->db);   /* reconnect once: the server may have restarted */
        s->db = NULL;
    }
}

static void on_assign(poller_state_t *s, rd_kafka_topic_partition_list_t *parts)
{
    const actor_env_t *env = s->env;
    /* Where each partition resumes, and what above that already finished:
     * the committed offset and its metadata (the offset map). */
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t ce = rd_kafka_committed(s->consumer, committed, 10000);
    if (ce != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("poller", "reading committed offsets: %s; starting without offset maps", rd_kafka_err2str(ce));
    /* Where PostgreSQL is ahead of Kafka: rows committed, offset not. */
    int64_t *from = s->assign_from;
    offset_map_t *applied = s->assign_applied;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t part = parts->elems[i].partition;
        rd_kafka_topic_partition_t *c =
            ce == RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_topic_partition_list_find(committed, env->cfg->topic_raw, part)
                                             : NULL;
        if (part >= 0 && part < PIPELINE_MAX_PARTITIONS) {
            from[part] = c != NULL && c->err == RD_KAFKA_RESP_ERR_NO_ERROR && c->offset >= 0 ? c->offset : 0;
            offset_map_init(&applied[part]);
        }
    }
    /* Events a crashed process published but never noted: noted now, so
     * the replays below do not publish them again. */
    if (parts->cnt > 0 && poller_db(s) != NULL && reconcile_published(env, s->db) < 0) {
        PQfinish(s->db);   /* perhaps a restarted server: reconnect next time */
        s->db = NULL;
    }
    read_applied(s, parts, from, applied);
    for (int i = 0; i < parts->cnt; i++) {
        int32_t part = parts->elems[i].partition;
        if (part < 0 || part >= PIPELINE_MAX_PARTITIONS || strcmp(parts->elems[i].topic, env->cfg->topic_raw))
            continue;
        if (s->partitions[part] == NULL)
            s->partitions[part] = partition_spawn(env, part);
        assign_msg_t *m = rt_msg_new(sizeof(*m), MSG_ASSIGN);
        m->generation = poller_next_generation(s, part);
        m->committed = -1;
        m->metadata[0] = '\0';
        rd_kafka_topic_partition_t *c =
            ce == RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_topic_partition_list_find(committed, env->cfg->topic_raw, part)
                                             : NULL;
        if (c != NULL && c->err == RD_KAFKA_RESP_ERR_NO_ERROR && c->offset >= 0) {
            m->committed = c->offset;
            if (c->metadata != NULL && c->metadata_size < sizeof(m->metadata)) {
                memcpy(m->metadata, c->metadata, c->metadata_size);
                m->metadata[c->metadata_size] = '\0';
            }
        }
        m->applied = applied[part];
        offset_map_init(&applied[part]);
        rt_send_force(s->partitions[part], m);
        poller_retry_assign(s, part, m->generation);
        if (!s->assigned[part])
            gauge_add(&g_metrics.partitions_assigned, 1);
        s->assigned[part] = true;
        s->paused[part] = false;
        s->held[part] = false;
        s->wants_pause[part] = false;
        /* Keep this partition's messages in its own queue: taken only when
         * its partition-consumer has room. */
        if (s->queues[part] == NULL) {
            s->queues[part] = rd_kafka_queue_get_partition(s->consumer, env->cfg->topic_raw, part);
            rd_kafka_queue_forward(s->queues[part], NULL);
            kafka_wake_watch(&s->wake, s->queues[part]);
        }
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
    const actor_env_t *env = s->env;
    rt_future_t *futures[PIPELINE_MAX_PARTITIONS];
    int32_t which[PIPELINE_MAX_PARTITIONS];
    int nf = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t part = parts->elems[i].partition;
        if (part < 0 || part >= PIPELINE_MAX_PARTITIONS || s->partitions[part] == NULL)
            continue;
        if (s->held[part]) {
            gauge_add(&g_metrics.partitions_paused, -1);
            pstat_set(&env->status->partitions[part].paused, 0);
        }
        if (s->assigned[part])
            gauge_add(&g_metrics.partitions_assigned, -1);
        if (s->queues[part] != NULL) {
            kafka_wake_unwatch(s->queues[part]);
            rd_kafka_queue_destroy(s->queues[part]);
            s->queues[part] = NULL;
        }
        s->paused[part] = false;
        s->held[part] = false;
        s->assigned[part] = false;
        poller_next_generation(s, part);
        if (env->to->dlq_retry != NULL) {
            retry_revoke_msg_t *rr = rt_msg_new(sizeof(*rr), MSG_RETRY_REVOKE);
            rr->partition = part;
            rt_send_force(env->to->dlq_retry, rr);
        }
        revoke_msg_t *m = rt_msg_new(sizeof(*m), MSG_REVOKE);
        m->lost = lost;
        if (lost) {
            rt_send_force(s->partitions[part], m);
        } else {
            futures[nf] = rt_future_new();
            which[nf] = part;
            m->hdr.reply_future = futures[nf];
            m->hdr.reply_actor = NULL;
            rt_send_force(s->partitions[part], m);
            nf++;
        }
        log_info("poller", "%s %s [%d]", lost ? "lost" : "revoked", parts->elems[i].topic, part);
    }
    if (nf == 0)
        return;
    rd_kafka_topic_partition_list_t *commit = rd_kafka_topic_partition_list_new(nf);
    for (int i = 0; i < nf; i++) {
        commit_state_msg_t *c = (commit_state_msg_t *)rt_future_wait(futures[i], env->cfg->revoke_wait_ms + 5000);
        if (c == NULL) {
            log_warn("poller", "partition %d did not answer its revoke; its uncommitted records will be redone",
                     which[i]);
            continue;
        }
        if (c->offset >= 0) {
            rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(commit, env->cfg->topic_raw, c->partition);
            tp->offset = c->offset;
            tp->metadata = strdup(c->metadata);
            tp->metadata_size = strlen(c->metadata);
        }
        rt_msg_free(c);
    }
    /* The hand-over commit is the one that decides what the next owner
     * redoes: retry it through a coordinator moving or loading. */
    for (int attempt = 1; commit->cnt > 0; attempt++) {
        rd_kafka_resp_err_t e = rd_kafka_commit(s->consumer, commit, 0);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        bool retriable = e == RD_KAFKA_RESP_ERR_NOT_COORDINATOR || e == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                         e == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                         e == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT || e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                         e == RD_KAFKA_RESP_ERR__TRANSPORT;
        if (!retriable || !backoff_may_attempt(&BACKOFF_REVOKE_COMMIT, attempt + 1)) {
            log_warn("poller", "commit on revoke: %s; the next owner redoes the uncommitted records",
                     rd_kafka_err2str(e));
            break;
        }
        log_info("poller", "commit on revoke: %s; retrying", rd_kafka_err2str(e));
        usleep((useconds_t)(backoff_delay_ms(&BACKOFF_REVOKE_COMMIT, attempt, NULL) * 1000));
    }
    rd_kafka_topic_partition_list_destroy(commit);
}

/* Results of the partitions' asynchronous commits, served by poll here. */
void poller_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                      void *opaque)
{
    (void)rk;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("poller", "offset commit: %s", rd_kafka_err2str(err));
    poller_state_t *s = opaque;
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        if (tp->err) {
            log_warn("poller", "offset commit [%d]: %s", tp->partition, rd_kafka_err2str(tp->err));
        } else if (err == RD_KAFKA_RESP_ERR_NO_ERROR && tp->offset > 0 && strcmp(tp->topic, s->env->cfg->topic_raw) == 0) {
            /* Committed in Kafka: the applied offsets below it are history. */
            prune_msg_t *m = rt_msg_new(sizeof(*m), MSG_PRUNE);
            m->partition = tp->partition;
            m->below = tp->offset;
            rt_send_force(s->env->to->storage[0], m);
        }
    }
}

void poller_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    poller_state_t *s = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    metric_add(&g_metrics.rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        s->assigned_once = true;
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

