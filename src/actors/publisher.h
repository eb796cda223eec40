/*
 * publisher.h -- the publisher: produces enriched events and DLQ records
 * with the idempotent producer; a record is done only when its delivery
 * report says the broker has it.
 */
#ifndef DISPATCHD_PUBLISHER_H
#define DISPATCHD_PUBLISHER_H

#include "actors.h"

enum publisher_msg {
    MSG_PUBLISH = RT_MSG_USER + 0x600,  /* storage, any stage: a record_t (enriched, or the DLQ
                                           when its result is RESULT_DLQ) */
    MSG_PRODUCE_FAILED,                 /* its delivery report: produce_failed_msg_t */
    MSG_EXTERNAL_ACK,                   /* not a message: the tag of external_ack_t */
};

typedef struct produce_failed_msg {
    rt_msg_t hdr;
    struct record *record;
    rd_kafka_resp_err_t err;
} produce_failed_msg_t;

/* The opaque of a message produced on the pipeline's producer by someone
 * other than the pipeline (the webhook endpoint, the control topic): its
 * delivery report calls done(ctx, err) on the producer's poll thread, then
 * frees it. */
typedef struct external_ack {
    rt_msg_t hdr;
    void (*done)(void *ctx, rd_kafka_resp_err_t err);
    void *ctx;
} external_ack_t;

/* Before the producer is created: its delivery reports go to the
 * publisher found in the book (filled later, before any produce). */
void publisher_install_delivery_cb(const actor_env_t *env, rd_kafka_conf_t *conf);
rt_actor_t *publisher_spawn(const actor_env_t *env);
/* Flushes the producer and stops serving its reports. */
void publisher_stop(rt_actor_t *publisher);

/* Sends a record that failed for good to the DLQ. */
void publisher_dead_letter(const actor_env_t *env, record_t *r, error_class_t cls, const char *error);

#endif
