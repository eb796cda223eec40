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

#include "log.h"
#include "pipeline.h"
#include "timefmt.h"

#define RETRY_MS 100

typedef struct publisher_state {
    pipeline_t *p;
    pthread_t poll_thread;
    int stop;
} publisher_state_t;

static char *enriched_json(const record_t *r)
{
    json_t *root = r->event.root;
    char at[ISO8601_LEN];
    iso8601_now(at, sizeof(at));
    json_object_set_new(root, "classification", cls_to_json(&r->cls));
    json_object_set_new(root, "processing_metadata",
                        json_pack("{s:s, s:I, s:s, s:s, s:f}", "processed_at", at, "processing_time_ms",
                                  (json_int_t)((now_us() - r->taken_us) / 1000), "model_version",
                                  r->cls.model_version, "provider", r->cls.provider, "cost_usd",
                                  r->cls.cost_usd));
    return json_dumps(root, JSON_COMPACT);
}

static rd_kafka_resp_err_t produce(pipeline_t *p, record_t *r)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(12);
    if (r->correlation_id[0])
        rd_kafka_header_add(h, "correlation_id", -1, r->correlation_id, -1);
    if (r->sync_id[0])
        rd_kafka_header_add(h, "sync_id", -1, r->sync_id, -1);
    if (r->user_id[0])
        rd_kafka_header_add(h, "user_id", -1, r->user_id, -1);

    const rd_kafka_message_t *m = r->rkm;
    rd_kafka_resp_err_t e;
    if (r->result == RESULT_DLQ) {
        char buf[64], at[ISO8601_LEN];
        iso8601_now(at, sizeof(at));
        rd_kafka_header_add(h, "error", -1, r->error, -1);
        rd_kafka_header_add(h, "error_class", -1, r->error_class == ERROR_TRANSIENT ? "transient" : "permanent", -1);
        snprintf(buf, sizeof(buf), "%d", r->attempts > 0 ? r->attempts : 1);
        rd_kafka_header_add(h, "attempts", -1, buf, -1);
        rd_kafka_header_add(h, "first_failed_at", -1, at, -1);
        rd_kafka_header_add(h, "original_topic", -1, p->cfg->topic_raw, -1);
        snprintf(buf, sizeof(buf), "%d", r->partition);
        rd_kafka_header_add(h, "original_partition", -1, buf, -1);
        snprintf(buf, sizeof(buf), "%lld", (long long)r->offset);
        rd_kafka_header_add(h, "original_offset", -1, buf, -1);
        e = rd_kafka_producev(p->producer, RD_KAFKA_V_TOPIC(p->cfg->topic_dlq),
                              RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_KEY(m->key, m->key_len),
                              RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
    } else {
        char *json = enriched_json(r);
        e = rd_kafka_producev(p->producer, RD_KAFKA_V_TOPIC(p->cfg->topic_enriched),
                              RD_KAFKA_V_VALUE(json, strlen(json)), RD_KAFKA_V_KEY(r->key, strlen(r->key)),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_HEADERS(h),
                              RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            free(json);
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_headers_destroy(h);
    return e;
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
    } else {
        rt_msg_free(msg);
        return;
    }
    if (r->result != RESULT_DLQ && !r->publish) {
        record_done(r);   /* already-seen issue version: nothing to publish */
        return;
    }
    rd_kafka_resp_err_t e = produce(s->p, r);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rt_timer_start(self, RETRY_MS, 0, r);
    } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        metric_add(&g_metrics.produce_errors, 1);
        log_error("publisher", "produce partition %d offset %lld: %s; retrying", r->partition,
                  (long long)r->offset, rd_kafka_err2str(e));
        rt_timer_start(self, 1000, 0, r);
    }
}

static void delivery_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    pipeline_t *p = opaque;
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
        /* The idempotent producer has already retried what it could: try
         * the whole produce again later rather than lose the record. */
        metric_add(&g_metrics.produce_errors, 1);
        log_error("publisher", "delivery partition %d offset %lld: %s; retrying", r->partition,
                  (long long)r->offset, rd_kafka_err2str(m->err));
        rt_timer_start(p->publisher, 1000, 0, r);
        return;
    }
    metric_add(&g_metrics.produced, 1);
    if (r->result == RESULT_DLQ) {
        record_done(r);
        return;
    }
    /* The database notes the event as published before the offset may be
     * committed: a replay then knows not to publish it again. */
    r->hdr.type = MSG_MARK_PUBLISHED;
    rt_send_force(pipeline_storage_for(p, r->event.issue_id), r);
}

static void *poll_main(void *arg)
{
    publisher_state_t *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
        rd_kafka_poll(s->p->producer, 100);
    return NULL;
}

rt_actor_t *publisher_spawn(pipeline_t *p)
{
    publisher_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->p = p;
    rt_actor_opts_t o = {.name = "publisher", .capacity = 65536, .high_watermark = 8192, .low_watermark = 2048};
    rt_actor_t *a = rt_spawn(p->rt, publisher_handler, s, &o);
    pthread_create(&s->poll_thread, NULL, poll_main, s);
    return a;
}

void publisher_install_delivery_cb(pipeline_t *p, rd_kafka_conf_t *conf)
{
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, delivery_cb);
}

void publisher_stop(pipeline_t *p)
{
    if (p->publisher == NULL)
        return;
    publisher_state_t *s = rt_actor_state(p->publisher);
    rd_kafka_flush(p->producer, 10000);
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    pthread_join(s->poll_thread, NULL);
    free(s);
}

void pipeline_dead_letter(pipeline_t *p, record_t *r, error_class_t cls, const char *error)
{
    r->result = RESULT_DLQ;
    r->error_class = cls;
    snprintf(r->error, sizeof(r->error), "%s", error);
    r->hdr.type = MSG_PUBLISH;
    rt_send_force(p->publisher, r);
}
