/*
 * reconcile.c -- closes the one window exactly-once leaves between Kafka
 * and PostgreSQL: an enriched event the broker acknowledged whose
 * acknowledgement the database never noted (published_at still NULL,
 * because the process died in between). A replay would send such an event
 * again; so before partitions are taken on, the enriched topic is read
 * from shortly before the oldest unnoted row, and every event found there
 * is noted. Runs on the poller's thread, at assignment, and reads only as
 * far as the topic's end at that moment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "log.h"
#include "reconcile.h"

#define SLACK_MS 10000           /* clock skew between database and broker */
#define READ_LIMIT_MS 30000      /* reconciliation never holds an assignment longer */
#define READ_LIMIT_RECORDS 2000000

/* Assigns every partition of the enriched topic from `since_ms` up to its
 * end now; *remaining gets how many partitions have something to read. */
static rd_kafka_topic_partition_list_t *plan_reads(rd_kafka_t *rk, const char *topic, int64_t since_ms,
                                                   int64_t *ends, int *remaining)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
    rd_kafka_topic_destroy(t);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err) {
        log_warn("reconcile", "no metadata for %s: %s", topic, rd_kafka_err2str(e ? e : md->topics[0].err));
        if (md)
            rd_kafka_metadata_destroy(md);
        return NULL;
    }
    int n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int32_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = since_ms;
    e = rd_kafka_offsets_for_times(rk, l, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn("reconcile", "offsets for times on %s: %s", topic, rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
        return NULL;
    }
    *remaining = 0;
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        if (tp->partition >= PIPELINE_MAX_PARTITIONS ||
            rd_kafka_query_watermark_offsets(rk, topic, tp->partition, &lo, &hi, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            hi = -1;
        if (tp->partition < PIPELINE_MAX_PARTITIONS)
            ends[tp->partition] = hi;
        /* No record at or after the time: nothing to read there. */
        if (tp->err || tp->offset < 0 || hi < 0 || tp->offset >= hi)
            tp->offset = RD_KAFKA_OFFSET_END;
        else
            (*remaining)++;
    }
    return l;
}

int reconcile_published(const actor_env_t *env, PGconn *db)
{
    int64_t oldest = ledger_oldest_unmarked_ms(db);
    if (oldest <= 0)
        return (int)oldest;   /* 0: nothing to do; -1: error */
    char err[256], e[256], group[96];
    rd_kafka_conf_t *conf = kafka_conf(env->cfg, env->kenv, KAFKA_ADMIN, err, sizeof(err));
    if (conf == NULL) {
        log_warn("reconcile", "%s", err);
        return -1;
    }
    snprintf(group, sizeof(group), "%s-reconcile-%d", env->cfg->group_id, getpid());
    rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e));
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", e, sizeof(e));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        log_warn("reconcile", "%s", err);
        return -1;
    }
    int64_t *ends = calloc(PIPELINE_MAX_PARTITIONS, sizeof(*ends));   /* end offset per partition */
    bool *reached = calloc(PIPELINE_MAX_PARTITIONS, sizeof(*reached));
    if (ends == NULL || reached == NULL)
        abort();
    int remaining = 0;
    rd_kafka_topic_partition_list_t *l = plan_reads(rk, env->cfg->topic_enriched, oldest - SLACK_MS, ends, &remaining);
    if (l == NULL) {
        rd_kafka_destroy(rk);
        free(ends);
        free(reached);
        return -1;
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);

    ledger_marks_t marks;
    ledger_marks_init(&marks);
    long seen = 0;
    uint64_t deadline = rt_now_ms() + READ_LIMIT_MS;
    while (remaining > 0 && rt_now_ms() < deadline && seen < READ_LIMIT_RECORDS) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            seen++;
            json_t *root = json_loadb(m->payload, m->len, 0, NULL);
            json_t *issue = json_object_get(root, "issue");
            json_t *id = json_object_get(issue, "id");
            if (json_is_integer(id))
                ledger_marks_add(&marks, 0, json_integer_value(id),
                                 json_string_value(json_object_get(issue, "updated_at")));
            json_decref(root);
            int32_t part = m->partition;
            if (part >= 0 && part < PIPELINE_MAX_PARTITIONS && !reached[part] && m->offset + 1 >= ends[part]) {
                reached[part] = true;
                remaining--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(ends);
    free(reached);
    if (remaining > 0)
        log_warn("reconcile", "read %ld enriched events but not to the end of every partition", seen);

    int noted = ledger_marks_write(db, &marks);
    ledger_marks_free(&marks);
    if (noted < 0)
        return -1;
    log_info("reconcile", "read %ld enriched events since the oldest unnoted row; %d were already published and "
             "are now noted", seen, noted);
    return noted;
}
