/*
 * dlq_reader.c -- a DLQ job's reader (see dlq_jobs.h): made when the job
 * starts (the range's offsets asked of the broker, bounded waits on the
 * actor's dedicated thread), read when librdkafka announces records, never
 * waited on; a list gathers metadata, a replay gathers records to send.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlq_jobs_internal.h"
#include "log.h"
#include "schema.h"

void dlq_reader_close(dlq_jobs_state_t *s)
{
    for (int i = 0; i < s->ngather; i++)
        rd_kafka_message_destroy(s->gather[i]);
    s->ngather = 0;
    if (s->queue != NULL) {
        kafka_wake_unwatch(s->queue);
        rd_kafka_queue_destroy(s->queue);
        s->queue = NULL;
    }
    if (s->rk != NULL) {
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
        s->rk = NULL;
    }
    s->paused = false;
    free(s->known);
    free(s->acked);
    s->known = s->acked = NULL;
    s->nknown = s->nacked = s->capacked = 0;
    free(s->end);
    free(s->next);
    free(s->done);
    s->end = NULL;
    s->next = NULL;
    s->done = NULL;
}

/* The reader for the job's range: each partition from the first record at
 * or after `from` up to the first after `to` (or the end it has now). */
int dlq_reader_open(dlq_jobs_state_t *s, char *err, size_t errlen)
{
    const config_t *cfg = s->env->cfg;
    const dlq_filter_t *f = &s->running->f;
    rd_kafka_conf_t *conf = kafka_conf(cfg, s->env->kenv, KAFKA_ADMIN, err, errlen);
    if (conf == NULL)
        return -1;
    char e[256], group[300];
    snprintf(group, sizeof(group), "%s-dlq-reader-%d", cfg->group_id, getpid());
    rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", e, sizeof(e));
    /* librdkafka's own prefetch bound is never reached (past it, this
     * version fetches again only a second later, which set a replay's
     * pace): the prefetch is bounded here instead, by pausing the
     * partitions while PREFETCH_HIGH records wait unread. */
    rd_kafka_conf_set(conf, "queued.max.messages.kbytes", "2097151", e, sizeof(e));
    rd_kafka_conf_set(conf, "queued.min.messages", "10000000", e, sizeof(e));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", e, sizeof(e));
    rd_kafka_conf_set(conf, "max.partition.fetch.bytes", "4194304", e, sizeof(e));
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (s->rk == NULL)
        return -1;
    rd_kafka_topic_t *t = rd_kafka_topic_new(s->rk, cfg->topic_dlq, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = rd_kafka_metadata(s->rk, 0, t, &md, QUERY_TIMEOUT_MS);
    rd_kafka_topic_destroy(t);
    if (me != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, errlen, "%s: %s", cfg->topic_dlq,
                 rd_kafka_err2str(me ? me : md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    s->nparts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    s->end = calloc((size_t)s->nparts + 1, sizeof(*s->end));
    s->done = calloc((size_t)s->nparts + 1, sizeof(*s->done));
    s->next = calloc((size_t)s->nparts + 1, sizeof(*s->next));
    if (s->end == NULL || s->done == NULL || s->next == NULL)
        abort();
    rd_kafka_topic_partition_list_t *from = rd_kafka_topic_partition_list_new(s->nparts);
    rd_kafka_topic_partition_list_t *to = rd_kafka_topic_partition_list_new(s->nparts);
    for (int p = 0; p < s->nparts; p++) {
        rd_kafka_topic_partition_list_add(from, cfg->topic_dlq, p)->offset = f->from_ms >= 0 ? f->from_ms : 0;
        rd_kafka_topic_partition_list_add(to, cfg->topic_dlq, p)->offset = f->to_ms >= 0 ? f->to_ms + 1 : 0;
    }
    int rc = 0;
    for (int p = 0; p < s->nparts && rc == 0; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t we = rd_kafka_query_watermark_offsets(s->rk, cfg->topic_dlq, p, &lo, &hi, QUERY_TIMEOUT_MS);
        if (we != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "%s [%d] watermarks: %s", cfg->topic_dlq, p, rd_kafka_err2str(we));
            rc = -1;
        }
        from->elems[p].offset = f->from_ms >= 0 ? from->elems[p].offset : lo;
        s->end[p] = hi;
    }
    /* Times to offsets; a time past the last record gives -1: the end. */
    if (rc == 0 && f->from_ms >= 0 && (me = rd_kafka_offsets_for_times(s->rk, from, QUERY_TIMEOUT_MS)) != 0) {
        snprintf(err, errlen, "%s: offsets for `from`: %s", cfg->topic_dlq, rd_kafka_err2str(me));
        rc = -1;
    }
    if (rc == 0 && f->to_ms >= 0 && (me = rd_kafka_offsets_for_times(s->rk, to, QUERY_TIMEOUT_MS)) != 0) {
        snprintf(err, errlen, "%s: offsets for `to`: %s", cfg->topic_dlq, rd_kafka_err2str(me));
        rc = -1;
    }
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(s->nparts);
    for (int p = 0; p < s->nparts && rc == 0; p++) {
        int64_t start = from->elems[p].offset >= 0 ? from->elems[p].offset : s->end[p];
        if (f->to_ms >= 0 && to->elems[p].offset >= 0 && to->elems[p].offset < s->end[p])
            s->end[p] = to->elems[p].offset;
        if (f->tail > 0 && s->end[p] - f->tail > start)
            start = s->end[p] - f->tail;
        if (start >= s->end[p]) {
            s->done[p] = true;
            continue;
        }
        rd_kafka_topic_partition_list_add(assign, cfg->topic_dlq, p)->offset = start;
        s->next[p] = start;
        s->parts_left++;
    }
    rd_kafka_topic_partition_list_destroy(from);
    rd_kafka_topic_partition_list_destroy(to);
    if (rc == 0 && assign->cnt > 0 && s->running->kind == DLQ_REPLAY) {
        /* What was replayed before in the range: asked once, kept. */
        dlq_range_t *spans = calloc((size_t)assign->cnt, sizeof(*spans));
        if (spans == NULL)
            abort();
        for (int i = 0; i < assign->cnt; i++)
            spans[i] = (dlq_range_t){assign->elems[i].partition, assign->elems[i].offset,
                                     s->end[assign->elems[i].partition] - 1};
        s->nknown = pg_keep(&s->db, cfg->database_url, err, errlen) == NULL
                        ? -1
                        : dlq_replays_overlapping(s->db, cfg->topic_dlq, spans, assign->cnt, &s->known, err, errlen);
        free(spans);
        if (s->nknown < 0)
            rc = -1;
        else
            s->nknown = dlq_ranges_normalize(s->known, s->nknown);
    }
    if (rc == 0 && assign->cnt > 0) {
        rd_kafka_poll_set_consumer(s->rk);
        s->queue = rd_kafka_queue_get_consumer(s->rk);
        kafka_wake_watch(&s->wake, s->queue);
        rd_kafka_error_t *ae = rd_kafka_incremental_assign(s->rk, assign);
        if (ae != NULL) {
            snprintf(err, errlen, "%s: assign: %s", cfg->topic_dlq, rd_kafka_error_string(ae));
            rd_kafka_error_destroy(ae);
            rc = -1;
        }
    }
    rd_kafka_topic_partition_list_destroy(assign);
    return rc;
}

static void part_done(dlq_jobs_state_t *s, int32_t p)
{
    if (p >= 0 && p < s->nparts && !s->done[p]) {
        s->done[p] = true;
        if (s->parts_left > 0)
            s->parts_left--;
    }
}

/* A record's metadata: never its value. */
static json_t *record_meta(const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tt;
    char at[ISO8601_LEN], buf[512];
    iso8601_ms(at, sizeof(at), rd_kafka_message_timestamp(m, &tt));
    json_t *o = json_pack("{s:i, s:I, s:s%, s:s}", "partition", (int)m->partition, "offset", (json_int_t)m->offset,
                          "key", m->key ? (const char *)m->key : "", m->key ? m->key_len : 0, "dlq_at", at);
    static const char *const names[] = {"error", "error_class", "attempts", "first_failed_at", "original_topic",
                                        "original_partition", "original_offset", "replayed_from", "truncated"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (kafka_header(m, names[i], buf, sizeof(buf)) != NULL) {
            bool number = strcmp(names[i], "attempts") == 0 || strcmp(names[i], "original_partition") == 0 ||
                          strcmp(names[i], "original_offset") == 0;
            json_object_set_new(o, names[i], number ? json_integer(strtoll(buf, NULL, 10)) : json_string(buf));
        }
    char hist[4096];
    json_t *h = kafka_header(m, "history", hist, sizeof(hist)) ? json_loads(hist, 0, NULL) : NULL;
    if (h != NULL)
        json_object_set_new(o, "history", h);
    return o;
}

/* Fetching stops while the sends catch up, and starts again at once when
 * they did. Neither librdkafka's prefetch bound nor a pause serves here:
 * in this version both make the next fetch wait for the broker thread's
 * next wake-up (a second), which set a replay's pace; an assignment at
 * an offset fetches at once. */
static void dlq_reader_pause(dlq_jobs_state_t *s, bool pause)
{
    if (s->paused == pause || s->rk == NULL)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(s->nparts > 0 ? s->nparts : 1);
    for (int p = 0; p < s->nparts; p++)
        if (!s->done[p])
            rd_kafka_topic_partition_list_add(l, s->env->cfg->topic_dlq, p)->offset = s->next[p];
    rd_kafka_error_t *e = l->cnt == 0 ? NULL
                          : pause     ? rd_kafka_incremental_unassign(s->rk, l)
                                      : rd_kafka_incremental_assign(s->rk, l);
    if (e != NULL) {
        log_warn("dlq", "%s the DLQ reader: %s", pause ? "pausing" : "resuming", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
    s->paused = pause;
}

static void take(dlq_jobs_state_t *s, rd_kafka_message_t *m)
{
    job_t *j = s->running;
    int32_t p = m->partition;
    if (p < 0 || p >= s->nparts || s->done[p] || m->offset >= s->end[p]) {
        part_done(s, p);
        rd_kafka_message_destroy(m);
        return;
    }
    s->next[p] = m->offset + 1;
    if (m->offset + 1 >= s->end[p])
        part_done(s, p);
    j->scanned++;
    char cls[32];
    rd_kafka_timestamp_type_t tt;
    if (!dlq_filter_match(&j->f, m->key, m->key_len, kafka_header(m, "error_class", cls, sizeof(cls)),
                          rd_kafka_message_timestamp(m, &tt))) {
        rd_kafka_message_destroy(m);
        return;
    }
    j->matched++;
    if (j->f.limit > 0 && j->matched >= j->f.limit) {
        j->limit_reached = true;
        s->parts_left = 0;   /* read no further */
    }
    if (j->kind == DLQ_LIST) {
        json_array_append_new(j->records, record_meta(m));
        rd_kafka_message_destroy(m);
        return;
    }
    char trunc[8];
    if (kafka_header(m, "truncated", trunc, sizeof(trunc)) != NULL && strcmp(trunc, "true") == 0) {
        j->truncated_skipped++;   /* only its first bytes are here: replaying them would only fail */
        rd_kafka_message_destroy(m);
        return;
    }
    s->gather[s->ngather++] = m;
}

/* Reads what the reader has; a replay sends each full batch and reads on
 * while up to BATCHES_IN_FLIGHT wait for their acknowledgements. */
void dlq_read_some(dlq_jobs_state_t *s)
{
    if (s->paused && rd_kafka_queue_length(s->queue) <= PREFETCH_LOW)
        dlq_reader_pause(s, false);
    while (s->running != NULL && s->running->status == JOB_RUNNING && s->failing[0] == '\0') {
        job_t *j = s->running;
        if (s->ngather == REPLAY_BATCH || (s->parts_left == 0 && s->ngather > 0)) {
            if (s->nsent == BATCHES_IN_FLIGHT) {
                if (rd_kafka_queue_length(s->queue) >= PREFETCH_HIGH)
                    dlq_reader_pause(s, true);
                return;   /* an acknowledged batch reads on */
            }
            dlq_replay_send(s);
            continue;
        }
        if (s->parts_left == 0) {
            if (s->nsent == 0)
                dlq_job_finish(s, NULL);
            return;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 0);
        if (m == NULL)
            return;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            part_done(s, m->partition);
            rd_kafka_message_destroy(m);
        } else if (m->err) {
            char why[300];
            snprintf(why, sizeof(why), "reading %s: %s", s->env->cfg->topic_dlq, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            if (j->kind == DLQ_LIST) {
                dlq_job_finish(s, why);
                return;
            }
            dlq_job_fail(s, why);
            return;
        } else {
            take(s, m);
        }
    }
}
