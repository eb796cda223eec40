#include "record.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classifier.h"
#include "kafka.h"
#include "partition.h"
#include "retry_meta.h"

uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Kafka timestamps have millisecond resolution; a clock read per record for
 * the end-to-end histogram was a visible share of the consumption path. */
uint64_t now_us_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

record_t *record_new(rd_kafka_message_t *m, uint64_t generation)
{
    record_t *r = rt_msg_new(sizeof(*r), MSG_CLASSIFY);   /* its first hop downstream */
    /* Field by field: zeroing the whole record (2.5 KB, mostly text the
     * classifier fills) cost more than the rest of the hand-off. */
    r->owner = NULL;
    r->generation = generation;
    r->offset = m->offset;
    r->rkm = m;
    rd_kafka_timestamp_type_t tst;
    r->kafka_ts_ms = rd_kafka_message_timestamp(m, &tst);
    r->taken_us = 0;
    r->row_id = 0;
    r->keyq = NULL;
    r->partition = m->partition;
    r->admitted = false;
    r->publish = false;
    r->replay = false;
    r->dropped = false;
    r->retried = false;
    r->retry = NULL;
    r->retry_offset = -1;
    r->result = RESULT_OK;
    r->error_class = ERROR_NONE;
    r->attempts = 0;
    r->dlq_cut_bytes = 0;
    r->produce_failures = 0;
    r->key[0] = '\0';
    r->event.root = NULL;
    r->event.arena = NULL;
    r->cls_json = NULL;
    return r;
}

void record_read_headers(record_t *r)
{
    r->correlation_id[0] = r->sync_id[0] = r->user_id[0] = r->error[0] = '\0';
    kafka_header(r->rkm, "correlation_id", r->correlation_id, sizeof(r->correlation_id));
    kafka_header(r->rkm, "sync_id", r->sync_id, sizeof(r->sync_id));
    kafka_header(r->rkm, "user_id", r->user_id, sizeof(r->user_id));
}

bool record_read_key(record_t *r)
{
    const rd_kafka_message_t *m = r->rkm;
    if (m->key == NULL || m->key_len == 0 || m->key_len >= sizeof(r->key)) {
        r->key[0] = '\0';
        return false;
    }
    memcpy(r->key, m->key, m->key_len);
    r->key[m->key_len] = '\0';
    return true;
}

void record_free(record_t *r)
{
    issue_event_free(&r->event);
    free(r->cls_json);
    if (r->retry != NULL) {
        retry_meta_free(r->retry);
        free(r->retry);
    }
    if (r->rkm)
        rd_kafka_message_destroy(r->rkm);
    rt_msg_free(r);
}

void record_done(record_t *r)
{
    r->hdr.type = MSG_DONE;
    rt_send_force(r->owner, r);
}
