/*
 * publisher.c -- the publisher actor: produces enriched events and DLQ
 * records with the idempotent producer (acks=all). A record is done only when
 * its delivery report says the broker has it; the report hands it back to
 * its partition-consumer. Reports are served by a small thread that polls
 * the producer, since rd_kafka_poll blocks.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "enriched.h"
#include "log.h"
#include "publisher.h"
#include "partition.h"
#include "retry_meta.h"
#include "strbuf.h"
#include "storage.h"
#include "timefmt.h"

#define QUEUE_FULL_RETRY_MS 100   /* the producer's local queue is full: it drains within ms */
/* Room left for the key, headers and batch framing when a DLQ value is cut
 * to fit the producer's message.max.bytes. */
#define DLQ_FRAMING_BYTES 16384
#define DLQ_MIN_CUT_BYTES 1024

typedef struct publisher_state {
    const actor_env_t *env;
    pthread_t poll_thread;
    int stop;
    size_t max_bytes;             /* the producer's message.max.bytes */
    strbuf_t out;                 /* the enriched event being produced */
} publisher_state_t;

/* The enriched event, into out. */
static void enriched_json(const record_t *r, strbuf_t *out)
{
    char at[ISO8601_LEN];
    iso8601_now(at, sizeof(at));
    enriched_meta_t meta = {at, (long long)((now_us() - r->taken_us) / 1000), r->cls.model_version, r->cls.provider,
                            r->cls.cost_usd};
    /* The classification as storage wrote it, when it did this pass. */
    char *c = r->cls_json ? r->cls_json : cls_json_text(&r->cls);
    enriched_value(out, r->rkm ? r->rkm->payload : "", r->rkm ? r->rkm->len : 0, r->event.root, c, &meta);
    if (c != r->cls_json)
        free(c);
}

/* A DLQ record's retry-path headers: all but when it was due and whether
 * it followed (meaningless once it is out of the path). */
static void dlq_header_put(void *headers, const char *name, const char *value)
{
    if (strcmp(name, "not_before") != 0 && strcmp(name, "follows") != 0)
        kafka_header_put(headers, name, value);
}

static rd_kafka_resp_err_t produce(publisher_state_t *s, record_t *r)
{
    const actor_env_t *env = s->env;
    rd_kafka_headers_t *h = rd_kafka_headers_new(12);
    if (r->correlation_id[0])
        rd_kafka_header_add(h, "correlation_id", -1, r->correlation_id, -1);
    if (r->sync_id[0])
        rd_kafka_header_add(h, "sync_id", -1, r->sync_id, -1);
    if (r->user_id[0])
        rd_kafka_header_add(h, "user_id", -1, r->user_id, -1);

    const rd_kafka_message_t *m = r->rkm;
    rd_kafka_resp_err_t e;
    if (r->result == RESULT_RETRY) {
        /* The retry partition is the input partition's: whoever owns that
         * one owns this one, and a key's records keep their order here. */
        retry_meta_write(r->retry, kafka_header_put, h);
        e = rd_kafka_producev(env->producer, RD_KAFKA_V_TOPIC(env->cfg->topic_retry), RD_KAFKA_V_PARTITION(r->partition),
                              RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_KEY(r->key, strlen(r->key)),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
    } else if (r->result == RESULT_DLQ) {
        char buf[64];
        rd_kafka_header_add(h, "error", -1, r->error, -1);
        rd_kafka_header_add(h, "error_class", -1, r->error_class == ERROR_TRANSIENT ? "transient" : "permanent", -1);
        if (r->retry != NULL) {
            /* From the retry path: its attempts, first failure, origin
             * and history. */
            retry_meta_write(r->retry, dlq_header_put, h);
        } else {
            char at[ISO8601_LEN];
            iso8601_now(at, sizeof(at));
            snprintf(buf, sizeof(buf), "%d", r->attempts > 0 ? r->attempts : 1);
            rd_kafka_header_add(h, "attempts", -1, buf, -1);
            rd_kafka_header_add(h, "first_failed_at", -1, at, -1);
            rd_kafka_header_add(h, "original_topic", -1, env->cfg->topic_raw, -1);
            snprintf(buf, sizeof(buf), "%d", r->partition);
            rd_kafka_header_add(h, "original_partition", -1, buf, -1);
            snprintf(buf, sizeof(buf), "%lld", (long long)r->offset);
            rd_kafka_header_add(h, "original_offset", -1, buf, -1);
        }
        size_t len = m->len;
        if (r->dlq_cut_bytes > 0 && r->dlq_cut_bytes < len) {
            /* Too large for the DLQ whole: its first bytes, and where the
             * whole record still is (original_topic/partition/offset). */
            len = r->dlq_cut_bytes;
            snprintf(buf, sizeof(buf), "%zu", m->len);
            rd_kafka_header_add(h, "original_size", -1, buf, -1);
            rd_kafka_header_add(h, "truncated", -1, "true", -1);
        }
        e = rd_kafka_producev(env->producer, RD_KAFKA_V_TOPIC(env->cfg->topic_dlq),
                              RD_KAFKA_V_VALUE(m->payload, len), RD_KAFKA_V_KEY(m->key, m->key_len),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
    } else {
        /* copied by the producer into the message it allocates anyway: the
         * actor's one buffer serves every event */
        enriched_json(r, &s->out);
        e = rd_kafka_producev(env->producer, RD_KAFKA_V_TOPIC(env->cfg->topic_enriched),
                              RD_KAFKA_V_VALUE(s->out.data, s->out.len), RD_KAFKA_V_KEY(r->key, strlen(r->key)),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                              RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_headers_destroy(h);
    return e;
}

/* What a produce error means for the record: an enriched event that can
 * never be sent sends the record to the DLQ instead; a DLQ record too large
 * is cut (smaller at each refusal); anything else is tried again with
 * capped backoff. No record waits on a retry that cannot succeed. */
static void produce_failed(rt_actor_t *publisher, publisher_state_t *s, record_t *r, rd_kafka_resp_err_t e)
{
    metric_add(&g_metrics.produce_errors, 1);
    if ((r->result == RESULT_OK || r->result == RESULT_SKIPPED) && kafka_produce_error_permanent(e)) {
        char why[256];
        snprintf(why, sizeof(why), "enriched event refused by %s: %s", s->env->cfg->topic_enriched,
                 rd_kafka_err2str(e));
        log_warn("publisher", "partition %d offset %lld: %s; to the DLQ", r->partition, (long long)r->offset, why);
        r->publish = false;
        publisher_dead_letter(s->env, r, ERROR_PERMANENT, why);
        return;
    }
    if (r->result == RESULT_RETRY && (kafka_produce_error_permanent(e) || e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)) {
        char why[sizeof(r->error)];
        snprintf(why, sizeof(why), "%s refused it (%s) after: %.150s", s->env->cfg->topic_retry, rd_kafka_err2str(e),
                 r->error);
        log_warn("publisher", "partition %d offset %lld: %s; to the DLQ", r->partition, (long long)r->offset, why);
        publisher_dead_letter(s->env, r, ERROR_TRANSIENT, why);
        return;
    }
    if (r->result == RESULT_DLQ && kafka_produce_error_size(e)) {
        size_t first = s->max_bytes > DLQ_FRAMING_BYTES * 2 ? s->max_bytes - DLQ_FRAMING_BYTES : s->max_bytes / 2;
        size_t cut = r->dlq_cut_bytes == 0 ? first : r->dlq_cut_bytes / 2;
        if (cut >= r->rkm->len)
            cut = r->rkm->len / 2;
        if (cut >= DLQ_MIN_CUT_BYTES) {
            log_warn("publisher", "partition %d offset %lld: %zu bytes too large for %s; sending its first %zu",
                     r->partition, (long long)r->offset, r->rkm->len, s->env->cfg->topic_dlq, cut);
            r->dlq_cut_bytes = (uint32_t)cut;
            rt_send_force(publisher, &r->hdr);
            return;
        }
    }
    /* Transient (or the DLQ itself refuses: an operator must act; the
     * record is not dropped, and shutdown stays bounded). */
    if (r->produce_failures < UINT16_MAX)
        r->produce_failures++;
    uint64_t delay = backoff_delay_ms(&BACKOFF_PUBLISH, r->produce_failures, NULL);
    log_error("publisher", "%s partition %d offset %lld: %s; retrying in %llu ms",
              r->result == RESULT_DLQ ? "DLQ record" : r->result == RESULT_RETRY ? "retry record" : "enriched event", r->partition, (long long)r->offset,
              rd_kafka_err2str(e), (unsigned long long)delay);
    rt_timer_start(publisher, delay, 0, r);
}

static void publisher_handler(rt_actor_t *self, rt_msg_t *msg)
{
    publisher_state_t *s = rt_actor_state(self);
    record_t *r;
    if (msg->type == RT_MSG_TIMER) {
        /* a retry after the local queue was full */
        r = ((rt_timer_msg_t *)msg)->arg;
        rt_msg_free(msg);
    } else if (msg->type == MSG_PUBLISH) {
        r = (record_t *)msg;
    } else if (msg->type == MSG_PRODUCE_FAILED) {
        produce_failed_msg_t *f = (produce_failed_msg_t *)msg;
        r = f->record;
        rd_kafka_resp_err_t e = f->err;
        rt_msg_free(msg);
        r->hdr.type = MSG_PUBLISH;
        produce_failed(self, s, r, e);
        return;
    } else {
        rt_msg_free(msg);
        return;
    }
    r->hdr.type = MSG_PUBLISH;
    if (r->result != RESULT_DLQ && r->result != RESULT_RETRY && !r->publish) {
        record_done(r);   /* already-seen issue version: nothing to publish */
        return;
    }
    rd_kafka_resp_err_t e = produce(s, r);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rt_timer_start(self, QUEUE_FULL_RETRY_MS, 0, r);
    else if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        produce_failed(self, s, r, e);
}

static void delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    const actor_env_t *env = opaque;
    rt_msg_t *opaque_msg = m->_private;
    if (opaque_msg == NULL)
        return;
    if (opaque_msg->type == MSG_EXTERNAL_ACK) {
        external_ack_t *ack = (external_ack_t *)opaque_msg;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            metric_add(&g_metrics.produced, 1);
        ack->done(ack->ctx, m->err);
        rt_msg_free(ack);
        return;
    }
    record_t *r = (record_t *)opaque_msg;
    if (m->err) {
        /* The idempotent producer has retried what it could: the publisher
         * decides what the error means for the record. */
        produce_failed_msg_t *f = rt_msg_new(sizeof(*f), MSG_PRODUCE_FAILED);
        f->record = r;
        f->err = m->err;
        rt_send_force(env->to->publisher, &f->hdr);
        return;
    }
    r->produce_failures = 0;
    metric_add(&g_metrics.produced, 1);
    if (r->result == RESULT_DLQ) {
        metric_add(&g_metrics.dlq_records[r->error_class == ERROR_TRANSIENT], 1);
        record_done(r);
        return;
    }
    if (r->result == RESULT_RETRY) {
        r->retry_offset = m->offset;
        metric_add(&g_metrics.retry_records[r->retry->follows ? RETRY_FOLLOWED : RETRY_ENTERED], 1);
        record_done(r);
        return;
    }
    /* The database notes the event as published before the offset may be
     * committed: a replay then knows not to publish it again. */
    r->hdr.type = MSG_MARK_PUBLISHED;
    rt_send_force(storage_for(env, r->event.issue_id), r);
}

static void *poll_main(void *arg)
{
    publisher_state_t *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
        rd_kafka_poll(s->env->producer, 100);
    return NULL;
}

/* The state goes with the actor: retry timers may still deliver to it
 * until the runtime is destroyed. */
static void publisher_finalize(rt_actor_t *self)
{
    publisher_state_t *s = rt_actor_state(self);
    sb_free(&s->out);
    free(s);
}

rt_actor_t *publisher_spawn(const actor_env_t *env)
{
    publisher_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    s->max_bytes = kafka_produce_max_bytes(env->producer);
    rt_actor_opts_t o = {.name = "publisher", .capacity = 65536, .high_watermark = 8192, .low_watermark = 2048,
                         .finalizer = publisher_finalize};
    rt_actor_t *a = rt_spawn(env->rt, publisher_handler, s, &o);
    if (pthread_create(&s->poll_thread, NULL, poll_main, s) != 0) {
        log_error("publisher", "cannot start the delivery-report thread");
        abort();
    }
    return a;
}

void publisher_install_delivery_cb(const actor_env_t *env, rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_opaque(conf, (void *)env);
    rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
}

void publisher_stop(rt_actor_t *publisher)
{
    if (publisher == NULL)
        return;
    publisher_state_t *s = rt_actor_state(publisher);
    rd_kafka_flush(s->env->producer, 10000);
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    pthread_join(s->poll_thread, NULL);
}

void publisher_dead_letter(const actor_env_t *env, record_t *r, error_class_t cls, const char *error)
{
    r->result = RESULT_DLQ;
    r->error_class = cls;
    snprintf(r->error, sizeof(r->error), "%s", error);
    r->hdr.type = MSG_PUBLISH;
    rt_send_force(env->to->publisher, r);
}
