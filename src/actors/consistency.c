/*
 * consistency.c -- the consistency actor (see consistency.h).
 */
#include "consistency_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consistency_counts.h"
#include "faults.h"
#include "log.h"
#include "uuid.h"
#include "schema.h"
#include "timefmt.h"

static int partitions_of(consistency_state_t *s, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(s->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(s->rk, 0, t, &md, QUERY_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return n < PIPELINE_MAX_PARTITIONS ? n : PIPELINE_MAX_PARTITIONS;
}

/* A topic's watermarks and a group's commits (group NULL: none). */
static int ask_topic(consistency_state_t *s, const char *topic, const char *group, topic_view_t *v)
{
    v->n = partitions_of(s, topic);
    if (v->n < 0) {
        snprintf(s->kafka_error, sizeof(s->kafka_error), "%s: no metadata", topic);
        return -1;
    }
    for (int p = 0; p < v->n; p++) {
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(s->rk, topic, p, &v->lo[p], &v->hi[p], QUERY_TIMEOUT_MS);
        if (v == &s->raw && fault_watermark_fails(p))
            e = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
        v->bad[p][0] = '\0';
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(v->bad[p], sizeof(v->bad[p]), "watermarks: %s", rd_kafka_err2str(e));
            v->lo[p] = v->hi[p] = 0;
        }
        v->committed[p] = -1;
    }
    if (group != NULL &&
        kafka_group_committed(s->rk, group, topic, v->n, v->committed, QUERY_TIMEOUT_MS, s->kafka_error,
                              sizeof(s->kafka_error)) != 0)
        return -1;
    return 0;
}

static int64_t depth(const topic_view_t *v, bool by_commit)
{
    int64_t d = 0;
    for (int p = 0; p < v->n; p++) {
        int64_t from = by_commit && v->committed[p] >= v->lo[p] ? v->committed[p] : v->lo[p];
        d += v->hi[p] > from ? v->hi[p] - from : 0;
    }
    return d;
}

static void refresh_kafka(consistency_state_t *s)
{
    const config_t *cfg = s->env->cfg;
    char group_retry[300];
    snprintf(group_retry, sizeof(group_retry), "%s-retry", cfg->group_id);
    s->kafka_error[0] = '\0';
    if (ask_topic(s, cfg->topic_raw, cfg->group_id, &s->raw) != 0 ||
        ask_topic(s, cfg->topic_dlq, NULL, &s->dlq) != 0 ||
        (cfg->retry_attempts > 0 && ask_topic(s, cfg->topic_retry, group_retry, &s->retry) != 0))
        log_debug("consistency", "kafka: %s", s->kafka_error);
    if (cfg->retry_attempts <= 0)
        s->retry.n = 0;
}

static void refresh_db(consistency_state_t *s)
{
    s->db_error[0] = '\0';
    if (pg_keep(&s->db, s->env->cfg->database_url, s->db_error, sizeof(s->db_error)) == NULL ||
        consistency_counts_read(s->db, s->env->cfg->group_id, s->env->cfg->topic_raw, &s->counts, s->db_error,
                                sizeof(s->db_error)) != 0)
        log_debug("consistency", "database: %s", s->db_error);
}

static bool consumption_paused(const consistency_state_t *s)
{
    const pipeline_status_t *st = s->env->status;
    if (__atomic_load_n(&st->admin_paused_all, __ATOMIC_ACQUIRE))
        return true;
    for (int p = 0; p < PIPELINE_MAX_PARTITIONS; p++)
        if (pstat_get(&st->partitions[p].paused))
            return true;
    return false;
}

static void build(consistency_state_t *s)
{
    const config_t *cfg = s->env->cfg;
    json_t *reasons = json_array(), *parts = json_array(), *unknowns = json_array();
    int64_t hw = 0, committed = 0, lag = 0;
    for (int p = 0; p < s->raw.n; p++) {
        if (s->raw.bad[p][0]) {
            char why[200];
            snprintf(why, sizeof(why), "partition %d: the broker did not answer (%s)", p, s->raw.bad[p]);
            json_array_append_new(unknowns, json_string(why));
            json_array_append_new(parts, json_pack("{s:i, s:s}", "partition", p, "error", s->raw.bad[p]));
            continue;
        }
        int64_t c = s->raw.committed[p], h = s->raw.hi[p];
        int64_t l = view_lag(&s->raw, p);
        if (c > h) {
            char why[200];
            snprintf(why, sizeof(why), "partition %d: committed offset %lld is beyond its end %lld (the topic was "
                     "recreated or truncated?)", p, (long long)c, (long long)h);
            json_array_append_new(reasons, json_string(why));
        }
        json_array_append_new(parts, json_pack("{s:i, s:I, s:o, s:I}", "partition", p, "high_watermark", (json_int_t)h,
                                               "committed_offset", c >= 0 ? json_integer(c) : json_null(), "lag",
                                               (json_int_t)l));
        hw += h;
        committed += c >= 0 ? c : 0;
        lag += l > 0 ? l : 0;
    }
    const consistency_counts_t *k = &s->counts;
    int64_t inflight = __atomic_load_n(&s->env->status->inflight, __ATOMIC_ACQUIRE);
    char why[300];
    if (k->issues > k->enriched) {
        snprintf(why, sizeof(why), "%lld issues have no classification (stored together: a classification was "
                 "removed)", (long long)(k->issues - k->enriched));
        json_array_append_new(reasons, json_string(why));
    }
    if (k->deleted_outside > 0 || k->truncated_outside > 0) {
        snprintf(why, sizeof(why), "%lld rows deleted%s outside dispatchd in the last 24 h "
                 "(dispatchai.outside_deletes; clear it once repaired)", (long long)k->deleted_outside,
                 k->truncated_outside > 0 ? " and tables truncated" : "");
        json_array_append_new(reasons, json_string(why));
    }
    int64_t now_ms = (int64_t)(now_us() / 1000);
    if (k->unpublished > 0 && lag == 0 && inflight == 0 &&
        now_ms - k->oldest_unpublished_ms > (int64_t)cfg->health_unpublished_grace_s * 1000) {
        snprintf(why, sizeof(why), "%lld classifications stored but never published, the oldest %lld s ago, with "
                 "nothing in flight", (long long)k->unpublished, (long long)((now_ms - k->oldest_unpublished_ms) / 1000));
        json_array_append_new(reasons, json_string(why));
    }
    bool unknown = s->kafka_error[0] || s->db_error[0] || json_array_size(unknowns) > 0;
    const char *verdict = "ok";
    if (json_array_size(reasons) > 0) {
        verdict = "inconsistent";
    } else if (unknown) {
        verdict = "unknown";
        if (s->kafka_error[0] || s->db_error[0])
            json_array_append_new(reasons, json_string(s->kafka_error[0] ? s->kafka_error : s->db_error));
        json_array_extend(reasons, unknowns);
    } else if (lag >= cfg->health_lag_threshold || (lag > 0 && consumption_paused(s))) {
        verdict = "lagging";
        snprintf(why, sizeof(why), "lag %lld%s", (long long)lag,
                 lag >= cfg->health_lag_threshold ? " at or above the threshold" : " while consumption is paused");
        json_array_append_new(reasons, json_string(why));
    }
    char oldest[ISO8601_LEN] = "";
    if (k->oldest_unpublished_ms > 0)
        iso8601_ms(oldest, sizeof(oldest), k->oldest_unpublished_ms);
    s->dlq_depth = depth(&s->dlq, false);
    s->retry_depth = depth(&s->retry, true);
    s->lag_rising = lag > s->lag_before;
    s->lag_before = lag;
    s->total_lag = lag;
    consistency_status_build(s, lag);
    json_t *totals = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, s:I, s:I, s:I, s:I}", "high_watermark", (json_int_t)hw,
        "committed_offset", (json_int_t)committed, "lag", (json_int_t)lag, "in_flight_here", (json_int_t)inflight,
        "issues", (json_int_t)k->issues, "enriched", (json_int_t)k->enriched, "enriched_unpublished",
        (json_int_t)k->unpublished, "oldest_unpublished_at", oldest[0] ? oldest : NULL, "applied_above_commit",
        (json_int_t)k->applied_pending, "dlq_depth", (json_int_t)depth(&s->dlq, false), "retry_depth",
        (json_int_t)depth(&s->retry, true), "deleted_outside_24h", (json_int_t)k->deleted_outside);
    json_t *o = json_pack("{s:s, s:o, s:s, s:s, s:s, s:o, s:o}", "verdict", verdict, "reasons", reasons, "group",
                          cfg->group_id, "topic", cfg->topic_raw, "refreshed_at", s->refreshed_at, "partitions", parts,
                          "totals", totals);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    json_decref(unknowns);
    latest_publish(s->health_doc, strcmp(verdict, "ok") == 0 || strcmp(verdict, "lagging") == 0 ? 200 : 503, text);
    free(text);
    s->built = true;
}

static void refresh(consistency_state_t *s, bool force)
{
    uint64_t now = rt_now_ms();
    bool changed = false;
    if (force || now - s->kafka_ms >= KAFKA_EVERY_MS) {
        refresh_kafka(s);
        s->kafka_ms = now;
        changed = true;
        consistency_dlq_ask(s);
    }
    if (force || now - s->db_ms >= DB_EVERY_MS) {
        refresh_db(s);
        s->db_ms = now;
        changed = true;
    }
    consistency_beat(s);
    if (changed) {
        s->refreshes++;
        iso8601_now(s->refreshed_at, sizeof(s->refreshed_at));
        build(s);
    } else if (s->built) {
        consistency_status_build(s, s->total_lag);
    }
}

static void consistency_handler(rt_actor_t *self, rt_msg_t *msg)
{
    consistency_state_t *s = rt_actor_state(self);
    if (msg->type == RT_MSG_TIMER) {
        refresh(s, !s->built);
    } else if (msg->type == MSG_CONSISTENCY_DLQ_RECENT) {
        consistency_dlq_answer(s, msg);
    }
    rt_msg_free(msg);
}

static void consistency_finalize(rt_actor_t *self)
{
    consistency_state_t *s = rt_actor_state(self);
    if (s->db != NULL)
        PQfinish(s->db);
    /* Its group was never joined and nothing was committed: nothing to
     * close, and no wait on a coordinator at shutdown. */
    rd_kafka_destroy_flags(s->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    json_decref(s->processes);
    json_decref(s->syncs);
    json_decref(s->dlq_recent);
    free(s);
}

rt_actor_t *consistency_spawn(const actor_env_t *env, latest_t *health_doc, latest_t *status_doc, char *err,
                              size_t errlen)
{
    rd_kafka_conf_t *conf = kafka_conf(env->cfg, env->kenv, KAFKA_ADMIN, err, errlen);
    if (conf == NULL)
        return NULL;
    consistency_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    s->health_doc = health_doc;
    s->status_doc = status_doc;
    s->raw.n = s->retry.n = s->dlq.n = 0;
    uuid_v4(s->process_id);
    if (gethostname(s->host, sizeof(s->host) - 1) != 0)
        snprintf(s->host, sizeof(s->host), "unknown");
    s->started_ms = (long long)(now_us() / 1000);
    /* A consumer with a group of its own (never joined, never committing):
     * kafka_group_committed needs a client with a group handle. */
    char e[256], group[300];
    snprintf(group, sizeof(group), "%s-snapshot-%d-%ld", env->cfg->group_id, getpid(), (long)rt_now_ms());
    rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e));
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (s->rk == NULL) {
        free(s);
        return NULL;
    }
    rt_actor_opts_t o = {.name = "consistency", .dedicated = true, .finalizer = consistency_finalize};
    rt_actor_t *a = rt_spawn(env->rt, consistency_handler, s, &o);
    s->self = a;   /* before its first message: the timer's */
    rt_timer_start(a, 1, 1000, NULL);
    return a;
}
