/*
 * dlq_jobs.c -- the DLQ actor (see dlq_jobs.h).
 *
 * A job's reader is made when it starts (the range's offsets asked of the
 * broker, bounded waits on this dedicated thread) and read when librdkafka
 * announces records, never waited on. A replay stops reading while a batch
 * waits for Kafka's acknowledgements, so at most one batch of records is
 * held.
 */
#include "dlq_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlq_replays.h"
#include "kafka_wake.h"
#include "log.h"
#include "publisher.h"
#include "schema.h"
#include "timefmt.h"
#include "uuid.h"

#define QUERY_TIMEOUT_MS 5000
#define TICK_MS 200
#define REPLAY_BATCH 2000
#define BATCHES_IN_FLIGHT 16           /* sent, waiting for Kafka's acknowledgements */
#define NOTE_EVERY 20000              /* acknowledged sends noted at once (and at the end): a
                                         crash sends at most these again on the next replay */
#define JOBS_KEPT 32                  /* finished jobs whose progress can still be asked */
#define JOBS_WAITING 16
#define PREFETCH_HIGH 20000           /* records fetched and unread: the reader pauses */
#define PREFETCH_LOW 5000             /* ... and resumes */

typedef enum { JOB_WAITING, JOB_RUNNING, JOB_DONE, JOB_FAILED } job_status_t;

/* Records sent to the input, until Kafka acknowledged every one; then
 * the acknowledged ones are noted (dlq_replays.h). The acknowledgements
 * arrive on the producer's thread: each sets its flag and lets its record
 * go; the last one tells the actor. */
typedef struct sent_batch {
    rt_actor_t *actor;
    int n;
    int pending;                  /* atomic: sends not answered, +1 while still sending */
    struct ref {
        struct sent_batch *b;
        int i;
        rd_kafka_message_t *m;    /* sent from where it was read: kept until answered */
    } ref[REPLAY_BATCH];          /* each record's acknowledgement's context */
    int32_t part[REPLAY_BATCH];
    int64_t off[REPLAY_BATCH];
    bool ok[REPLAY_BATCH];
} sent_batch_t;

typedef struct job {
    char id[37];
    dlq_request_kind_t kind;
    dlq_filter_t f;
    job_status_t status;
    char error[300];
    long scanned, matched, replayed, already, truncated_skipped, send_failed;
    json_t *records;              /* a list's answer */
    bool limit_reached;
    char started_at[ISO8601_LEN], finished_at[ISO8601_LEN];
    /* the request waiting for an answer (NULL once answered) */
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
    uint64_t answer_by_ms;
} job_t;

typedef struct dlq_jobs_state {
    const actor_env_t *env;
    rt_actor_t *self;
    PGconn *db;
    kafka_wake_t wake;
    job_t *running;
    job_t *waiting[JOBS_WAITING];
    int nwaiting;
    job_t *kept[JOBS_KEPT];       /* finished, newest last */
    int nkept;
    /* the running job's reader */
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int nparts;
    int64_t *end;                 /* by partition: read up to here (exclusive) */
    int64_t *next;                /* by partition: the next offset to read */
    bool *done;
    int parts_left;
    /* a replay's records gathered, not checked yet, and those sent */
    rd_kafka_message_t *gather[REPLAY_BATCH];
    int ngather;
    sent_batch_t *sent[BATCHES_IN_FLIGHT];
    int nsent;
    char failing[300];            /* the job failed: it ends once its sends are answered */
    dlq_range_t *known;           /* replayed before, in the job's range (normalized) */
    int nknown;
    dlq_range_t *acked;           /* sent and acknowledged, not noted yet */
    int nacked, capacked;
    bool paused;                  /* the reader's partitions, while the sends catch up */
} dlq_jobs_state_t;

typedef struct dlq_acked_msg {
    rt_msg_t hdr;
    sent_batch_t *batch;          /* every send answered */
} dlq_acked_msg_t;

static json_t *job_json(const job_t *j)
{
    static const char *const status[] = {"waiting", "running", "done", "failed"};
    json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:s}", "job_id", j->id, "status",
                          status[j->status], "dry_run", j->f.dry_run, "scanned", (json_int_t)j->scanned, "matched",
                          (json_int_t)j->matched, "replayed", (json_int_t)j->replayed, "already_replayed",
                          (json_int_t)j->already, "skipped_truncated", (json_int_t)j->truncated_skipped,
                          "started_at", j->started_at);
    if (j->f.dry_run)
        json_object_set_new(o, "would_replay", json_integer(j->matched - j->already - j->truncated_skipped));
    if (j->send_failed)
        json_object_set_new(o, "send_failed", json_integer(j->send_failed));
    if (j->finished_at[0])
        json_object_set_new(o, "finished_at", json_string(j->finished_at));
    if (j->error[0])
        json_object_set_new(o, "error", json_string(j->error));
    if (j->f.limit > 0)
        json_object_set_new(o, "limit_reached", json_boolean(j->limit_reached));
    return o;
}

static void answer(job_t *j, int status, json_t *o)
{
    if (j->reply == NULL) {
        json_decref(o);
        return;
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    j->reply(j->ctx, status, s);
    free(s);
    j->reply = NULL;
}

static void answer_job(job_t *j)
{
    if (j->status == JOB_FAILED) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "error", "dlq_unavailable", "detail", j->error, "job_id", j->id);
        answer(j, 503, o);
    } else if (j->kind == DLQ_LIST) {
        json_t *o = json_pack("{s:O, s:I, s:I, s:b}", "records", j->records, "count",
                              (json_int_t)json_array_size(j->records), "scanned", (json_int_t)j->scanned, "truncated",
                              j->limit_reached);
        answer(j, 200, o);
    } else {
        answer(j, j->status == JOB_DONE ? 200 : 202, job_json(j));
    }
}

static void job_free(job_t *j)
{
    json_decref(j->records);
    free(j);
}

static void close_reader(dlq_jobs_state_t *s)
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

static void start_next(dlq_jobs_state_t *s);

/* The running job ends: answered if its request still waits, kept for
 * progress queries. */
static void finish(dlq_jobs_state_t *s, const char *error)
{
    job_t *j = s->running;
    close_reader(s);
    if (error != NULL) {
        j->status = JOB_FAILED;
        snprintf(j->error, sizeof(j->error), "%s", error);
        log_warn("dlq", "job %s failed: %s", j->id, error);
    } else {
        j->status = JOB_DONE;
        if (j->kind == DLQ_REPLAY)
            log_info("dlq", "replay %s%s: %ld matched, %ld replayed, %ld replayed before, %ld truncated (not "
                     "replayed)", j->id, j->f.dry_run ? " (dry run)" : "", j->matched, j->replayed, j->already,
                     j->truncated_skipped);
    }
    iso8601_now(j->finished_at, sizeof(j->finished_at));
    answer_job(j);
    s->running = NULL;
    if (j->kind == DLQ_LIST) {
        job_free(j);
    } else {
        if (s->nkept == JOBS_KEPT) {
            job_free(s->kept[0]);
            memmove(s->kept, s->kept + 1, (JOBS_KEPT - 1) * sizeof(s->kept[0]));
            s->nkept--;
        }
        s->kept[s->nkept++] = j;
    }
    start_next(s);
}

/* The reader for the job's range: each partition from the first record at
 * or after `from` up to the first after `to` (or the end it has now). */
static int open_reader(dlq_jobs_state_t *s, char *err, size_t errlen)
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

static const char *header(const rd_kafka_message_t *m, const char *name, char *buf, size_t cap)
{
    return kafka_header(m, name, buf, cap);
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
        if (header(m, names[i], buf, sizeof(buf)) != NULL) {
            bool number = strcmp(names[i], "attempts") == 0 || strcmp(names[i], "original_partition") == 0 ||
                          strcmp(names[i], "original_offset") == 0;
            json_object_set_new(o, names[i], number ? json_integer(strtoll(buf, NULL, 10)) : json_string(buf));
        }
    char hist[4096];
    json_t *h = header(m, "history", hist, sizeof(hist)) ? json_loads(hist, 0, NULL) : NULL;
    if (h != NULL)
        json_object_set_new(o, "history", h);
    return o;
}

static void on_acked(void *ctx, rd_kafka_resp_err_t err)
{
    struct ref *ref = ctx;
    sent_batch_t *b = ref->b;
    b->ok[ref->i] = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_message_destroy(ref->m);
    if (__atomic_sub_fetch(&b->pending, 1, __ATOMIC_ACQ_REL) == 0) {
        dlq_acked_msg_t *m = rt_msg_new(sizeof(*m), MSG_DLQ_ACKED);
        m->batch = b;
        rt_send_force(b->actor, m);
    }
}

/* m's bytes are sent in place (no copy): ref keeps m until answered. */
static rd_kafka_resp_err_t replay_one(dlq_jobs_state_t *s, const rd_kafka_message_t *m, struct ref *ref)
{
    char buf[128];
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    static const char *const keep[] = {"correlation_id", "sync_id", "user_id"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (kafka_header(m, keep[i], buf, sizeof(buf)) != NULL)
            rd_kafka_header_add(h, keep[i], -1, buf, -1);
    snprintf(buf, sizeof(buf), "%d/%lld", (int)m->partition, (long long)m->offset);
    rd_kafka_header_add(h, "replayed_from", -1, buf, -1);
    external_ack_t *ack = rt_msg_new(sizeof(*ack), MSG_EXTERNAL_ACK);
    ack->done = on_acked;
    ack->ctx = ref;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        s->env->producer, RD_KAFKA_V_TOPIC(s->env->cfg->topic_raw), RD_KAFKA_V_VALUE(m->payload, m->len),
        RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(ack), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h);
        rt_msg_free(ack);
    }
    return e;
}

static void read_some(dlq_jobs_state_t *s);

/* Fetching stops while the sends catch up, and starts again at once when
 * they did. Neither librdkafka's prefetch bound nor a pause serves here:
 * in this version both make the next fetch wait for the broker thread's
 * next wake-up (a second), which set a replay's pace; an assignment at
 * an offset fetches at once. */
static void pause_reader(dlq_jobs_state_t *s, bool pause)
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

/* The job stops reading; it ends once every send is answered. */
static void fail(dlq_jobs_state_t *s, const char *error)
{
    if (s->failing[0] == '\0')
        snprintf(s->failing, sizeof(s->failing), "%s", error);
    for (int i = 0; i < s->ngather; i++)
        rd_kafka_message_destroy(s->gather[i]);
    s->ngather = 0;
    if (s->nsent == 0)
        finish(s, s->failing);
}

/* The gathered records replayed before are left out, the rest sent (or
 * counted, in a dry run); reading goes on while they are acknowledged. */
static void send_gathered(dlq_jobs_state_t *s)
{
    job_t *j = s->running;
    int n = s->ngather;
    sent_batch_t *b = NULL;
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = s->gather[i];
        if (dlq_ranges_contain(s->known, s->nknown, m->partition, m->offset)) {
            j->already++;
        } else if (!j->f.dry_run) {
            if (b == NULL) {
                b = calloc(1, sizeof(*b));
                if (b == NULL)
                    abort();
                b->actor = s->self;
                b->pending = 1;   /* until every send is made */
            }
            struct ref *ref = &b->ref[b->n];
            *ref = (struct ref){b, b->n, m};
            b->part[b->n] = m->partition;
            b->off[b->n] = m->offset;
            __atomic_add_fetch(&b->pending, 1, __ATOMIC_ACQ_REL);
            rd_kafka_resp_err_t e;
            while ((e = replay_one(s, m, ref)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(s->env->producer, 10);   /* the local queue drains within ms */
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                b->n++;
                continue;   /* m goes with its answer */
            }
            __atomic_sub_fetch(&b->pending, 1, __ATOMIC_ACQ_REL);
            j->send_failed++;
        }
        rd_kafka_message_destroy(m);
    }
    s->ngather = 0;
    if (b == NULL)
        return;
    s->sent[s->nsent++] = b;
    if (__atomic_sub_fetch(&b->pending, 1, __ATOMIC_ACQ_REL) == 0) {
        /* answered already (or nothing sent): handled like a last answer */
        dlq_acked_msg_t *a = rt_msg_new(sizeof(*a), MSG_DLQ_ACKED);
        a->batch = b;
        rt_send_force(s->self, a);
    }
}

/* The acknowledged sends not noted yet are noted. 0, or -1 with err. */
static int note_acked(dlq_jobs_state_t *s, char *err, size_t errlen)
{
    int n = dlq_ranges_normalize(s->acked, s->nacked);
    int rc = pg_keep(&s->db, s->env->cfg->database_url, err, errlen) == NULL
                 ? -1
                 : dlq_replays_note(s->db, s->env->cfg->topic_dlq, s->acked, n, s->running->id, err, errlen);
    s->nacked = 0;
    return rc;
}

/* Every send of a batch is answered: the ones Kafka has are counted, and
 * noted every NOTE_EVERY. */
static void batch_acked(dlq_jobs_state_t *s, sent_batch_t *b)
{
    job_t *j = s->running;
    int k = 0;
    while (k < s->nsent && s->sent[k] != b)
        k++;
    memmove(s->sent + k, s->sent + k + 1, (size_t)(s->nsent - k - 1) * sizeof(s->sent[0]));
    s->nsent--;
    if (s->nacked + b->n > s->capacked) {
        s->capacked = (s->nacked + b->n) * 2;
        s->acked = realloc(s->acked, (size_t)s->capacked * sizeof(*s->acked));
        if (s->acked == NULL)
            abort();
    }
    int n = 0;
    for (int i = 0; i < b->n; i++)
        if (b->ok[i]) {
            s->acked[s->nacked++] = (dlq_range_t){b->part[i], b->off[i], b->off[i]};
            n++;
        }
    j->send_failed += b->n - n;
    j->replayed += n;
    metric_add(&g_metrics.dlq_replayed, (uint64_t)n);
    free(b);
    bool last = s->nsent == 0 && (s->failing[0] != '\0' || (s->parts_left == 0 && s->ngather == 0));
    char err[300];
    if ((s->nacked >= NOTE_EVERY || last) && note_acked(s, err, sizeof(err)) != 0) {
        fail(s, err);   /* sent, but not noted: a later replay sends them again */
        return;
    }
    if (s->failing[0] != '\0') {
        if (s->nsent == 0)
            finish(s, s->failing);
        return;
    }
    read_some(s);
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
    if (!dlq_filter_match(&j->f, m->key, m->key_len, header(m, "error_class", cls, sizeof(cls)),
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
    if (header(m, "truncated", trunc, sizeof(trunc)) != NULL && strcmp(trunc, "true") == 0) {
        j->truncated_skipped++;   /* only its first bytes are here: replaying them would only fail */
        rd_kafka_message_destroy(m);
        return;
    }
    s->gather[s->ngather++] = m;
}

/* Reads what the reader has; a replay sends each full batch and reads on
 * while up to BATCHES_IN_FLIGHT wait for their acknowledgements. */
static void read_some(dlq_jobs_state_t *s)
{
    if (s->paused && rd_kafka_queue_length(s->queue) <= PREFETCH_LOW)
        pause_reader(s, false);
    while (s->running != NULL && s->running->status == JOB_RUNNING && s->failing[0] == '\0') {
        job_t *j = s->running;
        if (s->ngather == REPLAY_BATCH || (s->parts_left == 0 && s->ngather > 0)) {
            if (s->nsent == BATCHES_IN_FLIGHT) {
                if (rd_kafka_queue_length(s->queue) >= PREFETCH_HIGH)
                    pause_reader(s, true);
                return;   /* an acknowledged batch reads on */
            }
            send_gathered(s);
            continue;
        }
        if (s->parts_left == 0) {
            if (s->nsent == 0)
                finish(s, NULL);
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
                finish(s, why);
                return;
            }
            fail(s, why);
            return;
        } else {
            take(s, m);
        }
    }
}

static void start_next(dlq_jobs_state_t *s)
{
    while (s->running == NULL && s->nwaiting > 0) {
        job_t *j = s->waiting[0];
        memmove(s->waiting, s->waiting + 1, (size_t)(s->nwaiting - 1) * sizeof(s->waiting[0]));
        s->nwaiting--;
        s->running = j;
        j->status = JOB_RUNNING;
        iso8601_now(j->started_at, sizeof(j->started_at));
        s->parts_left = 0;
        s->failing[0] = '\0';
        char err[300];
        if (open_reader(s, err, sizeof(err)) != 0) {
            finish(s, err);
            continue;
        }
        read_some(s);
    }
}

static job_t *kept_job(dlq_jobs_state_t *s, const char *id)
{
    if (s->running != NULL && strcmp(s->running->id, id) == 0)
        return s->running;
    for (int i = 0; i < s->nwaiting; i++)
        if (strcmp(s->waiting[i]->id, id) == 0)
            return s->waiting[i];
    for (int i = 0; i < s->nkept; i++)
        if (strcmp(s->kept[i]->id, id) == 0)
            return s->kept[i];
    return NULL;
}

static void on_request(dlq_jobs_state_t *s, dlq_request_msg_t *r)
{
    if (r->kind == DLQ_JOB_STATUS) {
        job_t *j = kept_job(s, r->job_id);
        json_t *o = j ? job_json(j) : json_pack("{s:s, s:s}", "error", "not_found", "detail", "no such replay job");
        char *txt = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        r->reply(r->ctx, j ? 200 : 404, txt);
        free(txt);
        return;
    }
    if (s->nwaiting == JOBS_WAITING) {
        r->reply(r->ctx, 429, "{\"error\":\"busy\",\"detail\":\"too many DLQ jobs waiting; try again later\"}");
        return;
    }
    job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    uuid_v4(j->id);
    j->kind = r->kind;
    j->f = r->filter;
    if (j->kind == DLQ_LIST && j->f.limit == 0)
        j->f.limit = DLQ_LIST_DEFAULT_LIMIT;
    j->records = json_array();
    j->reply = r->reply;
    j->ctx = r->ctx;
    j->answer_by_ms = r->kind == DLQ_REPLAY ? rt_now_ms() + (uint64_t)r->answer_within_ms : 0;
    s->waiting[s->nwaiting++] = j;
    start_next(s);
}

/* A replay still running at its answer time is answered with its job. */
static void answer_late(dlq_jobs_state_t *s)
{
    uint64_t now = rt_now_ms();
    job_t *js[JOBS_WAITING + 1];
    int n = 0;
    if (s->running != NULL)
        js[n++] = s->running;
    for (int i = 0; i < s->nwaiting; i++)
        js[n++] = s->waiting[i];
    for (int i = 0; i < n; i++)
        if (js[i]->reply != NULL && js[i]->kind == DLQ_REPLAY && now >= js[i]->answer_by_ms)
            answer_job(js[i]);
}

static void dlq_jobs_handler(rt_actor_t *self, rt_msg_t *msg)
{
    dlq_jobs_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_DLQ_REQUEST:
        on_request(s, (dlq_request_msg_t *)msg);
        break;
    case MSG_DLQ_POLL:
        kafka_wake_reading(&s->wake);
        read_some(s);
        break;
    case MSG_DLQ_ACKED:
        batch_acked(s, ((dlq_acked_msg_t *)msg)->batch);
        break;
    case RT_MSG_TIMER:
        read_some(s);
        answer_late(s);
        break;
    default:
        break;
    }
    rt_msg_free(msg);
}

static void dlq_jobs_finalize(rt_actor_t *self)
{
    dlq_jobs_state_t *s = rt_actor_state(self);
    if (s->running != NULL) {
        snprintf(s->running->error, sizeof(s->running->error), "stopped");
        s->running->status = JOB_FAILED;
        answer_job(s->running);
        job_free(s->running);
    }
    close_reader(s);
    for (int i = 0; i < s->nsent; i++)
        free(s->sent[i]);
    for (int i = 0; i < s->nwaiting; i++) {
        s->waiting[i]->status = JOB_FAILED;
        snprintf(s->waiting[i]->error, sizeof(s->waiting[i]->error), "stopped");
        answer_job(s->waiting[i]);
        job_free(s->waiting[i]);
    }
    for (int i = 0; i < s->nkept; i++)
        job_free(s->kept[i]);
    if (s->db != NULL)
        PQfinish(s->db);
    free(s);
}

rt_actor_t *dlq_jobs_spawn(const actor_env_t *env)
{
    dlq_jobs_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    rt_actor_opts_t o = {.name = "dlq", .dedicated = true, .finalizer = dlq_jobs_finalize};
    s->self = rt_spawn(env->rt, dlq_jobs_handler, s, &o);
    kafka_wake_init(&s->wake, s->self, MSG_DLQ_POLL);
    rt_timer_start(s->self, TICK_MS, TICK_MS, NULL);
    return s->self;
}
