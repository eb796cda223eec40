/*
 * record.h -- one Kafka record on its way through the pipeline.
 *
 * A record is a single allocation that travels as the message itself:
 * partition-consumer -> classifier (-> llm) -> storage -> publisher ->
 * partition-consumer (done). Each stage sets the type to the next stage's
 * tag (declared in that stage's header) and forwards it, so a record costs
 * one malloc however many hops it makes.
 */
#ifndef DISPATCHD_RECORD_H
#define DISPATCHD_RECORD_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "classification.h"
#include "config.h"
#include "event.h"
#include "metrics.h"
#include "offset_map.h"
#include "runtime.h"

typedef enum { ERROR_NONE, ERROR_PERMANENT, ERROR_TRANSIENT } error_class_t;

typedef struct record {
    /* Hot: touched by every record on the consumption path, kept on the
     * first cache lines. The text fields below are touched only by the
     * stages that read them. */
    rt_msg_t hdr;
    rt_actor_t *owner;            /* the partition-consumer that tracks it */
    uint64_t generation;          /* owner's assignment generation */
    int64_t offset;
    rd_kafka_message_t *rkm;      /* owns the payload, key and headers */
    int64_t kafka_ts_ms;
    uint64_t taken_us;            /* when the partition-consumer took it */
    struct key_queue *keyq;       /* the owner's queue for its key (key ordering) */
    int32_t partition;
    bool admitted;                /* went through key ordering: frees its key when done */
    bool publish;                 /* storage found a new issue version */
    bool dropped;                 /* given up unprocessed (its partition moved on):
                                     back to its owner, which must not count it done */
    bool replay;                  /* its rows are committed already (applied_offsets):
                                     not classified again; storage only publishes
                                     its enriched event if that never happened */
    bool retried;                 /* taken from the retry path by the DLQ-retry actor (its
                                     owner): offset and partition are the retry topic's,
                                     never an applied offset of the input's */
    struct retry_meta *retry;     /* owned: its retry-path headers, while it goes to or
                                     through the path (result RESULT_RETRY), or to the DLQ
                                     from there */
    int64_t retry_offset;         /* where the retry topic took it (its delivery report) */
    enum record_result result;
    error_class_t error_class;
    int attempts;
    uint32_t dlq_cut_bytes;       /* DLQ value cut to this many bytes (0: whole) */
    uint16_t produce_failures;    /* transient produce failures in a row */
    char key[320];
    /* Set by record_read_headers() before any stage reads them. */
    char correlation_id[64];
    char sync_id[64];
    char user_id[64];
    char error[256];              /* set with error_class */
    issue_event_t event;          /* parsed; event.root NULL if invalid */
    classification_t cls;
    char *cls_json;               /* owned: cls as stored (storage writes it, the publisher
                                     sends the same text); NULL when not stored this pass */
    int64_t row_id;               /* its issue row's id, once stored (its mark finds it) */
} record_t;

/* A record for a fetched message: the consumption path's fields set, the
 * text fields left for the stages that fill them. */
record_t *record_new(rd_kafka_message_t *m, uint64_t generation);
/* correlation_id, sync_id and user_id from the message headers ("" when
 * absent), and no error yet. */
void record_read_headers(record_t *r);
/* The message's key as the record's ordering key; false (key "") when it
 * has none or it does not fit: the event's own key is made after parsing. */
bool record_read_key(record_t *r);
void record_free(record_t *r);
/* Hands a finished record back to its partition-consumer. */
void record_done(record_t *r);
uint64_t now_us(void);
/* Within a few milliseconds, for latencies measured from Kafka timestamps. */
uint64_t now_us_coarse(void);

#endif
