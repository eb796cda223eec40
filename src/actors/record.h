/*
 * record.h -- one Kafka record on its way through the pipeline, and the
 * message types the pipeline's actors exchange.
 *
 * A record is a single allocation that travels as the message itself:
 * poller -> partition-consumer -> classifier -> storage -> publisher ->
 * partition-consumer (done). Each stage sets the type and forwards it, so a
 * record costs one malloc however many hops it makes.
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

enum pipeline_msg {
    MSG_RECORDS = RT_MSG_USER + 1,  /* poller -> partition: a batch of fetched records */
    MSG_CLASSIFY,                   /* partition -> classifier */
    MSG_STORE,                      /* classifier -> storage */
    MSG_PUBLISH,                    /* storage/partition -> publisher (enriched or DLQ) */
    MSG_MARK_PUBLISHED,             /* publisher -> storage: enriched event acknowledged */
    MSG_DONE,                       /* storage/publisher -> partition: effects durable */
    MSG_POLL,                       /* poller, admin -> themselves: a round */
    MSG_POLLER_WAKE,                /* librdkafka, partition -> poller: a round soon */
    MSG_PARTITION_CTL,              /* partition -> poller: pause or resume */
    MSG_ASSIGN,                     /* poller -> partition: (re)assigned, new generation */
    MSG_REVOKE,                     /* poller -> partition: revoked or lost */
    MSG_STOP_INTAKE,                /* shutdown: stop polling */
    MSG_CLOSE,                      /* shutdown: close the consumer (request) */
    MSG_EXTERNAL_ACK,               /* a produce by a non-pipeline caller (webhooks) */
    MSG_ADMIN_PAUSE,                /* admin -> poller: a fleet command for this group */
    MSG_ADMIN_QUERY,                /* http -> admin: a query needing round trips */
    MSG_ADMIN_RESET,                /* admin -> poller: move owned partitions to offsets */
    MSG_PRUNE,                      /* poller -> storage: offsets committed in Kafka */
    MSG_SYNC_CANCELLED,             /* syncs/admin -> classifier: skip this sync's events */
    MSG_LIMITS,                     /* run (SIGHUP) -> llm: reloaded limits (limits_msg_t) */
    MSG_SYNC_REQUEST,               /* http -> syncs: a sync's status, or its cancellation */
    MSG_LLM_CALL,                   /* classifier -> llm: classify this record with the LLM */
    MSG_PRODUCE_FAILED,             /* delivery report -> publisher: a record's produce failed */
};

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
} record_t;

/* poller -> partition: records fetched from one partition, in offset
 * order. The partition-consumer makes the records: on its own worker, from
 * that worker's message pool, rather than on the poller's thread. */
#define RECORD_BATCH_MAX 256
typedef struct record_batch_msg {
    rt_msg_t hdr;
    uint64_t generation;
    int n;
    rd_kafka_message_t *msgs[RECORD_BATCH_MAX];
} record_batch_msg_t;

/* A record for a fetched message: the consumption path's fields set, the
 * text fields left for the stages that fill them. */
record_t *record_new(rd_kafka_message_t *m, uint64_t generation);
/* correlation_id, sync_id and user_id from the message headers ("" when
 * absent), and no error yet. */
void record_read_headers(record_t *r);
void record_free(record_t *r);
/* Hands a finished record back to its partition-consumer. */
void record_done(record_t *r);
uint64_t now_us(void);
/* Within a few milliseconds, for latencies measured from Kafka timestamps. */
uint64_t now_us_coarse(void);

/* The opaque of a message produced on the pipeline's producer by someone
 * other than the pipeline (the webhook endpoint): its delivery report calls
 * done(ctx, err) on the producer's poll thread, then frees it. */
typedef struct external_ack {
    rt_msg_t hdr;
    void (*done)(void *ctx, rd_kafka_resp_err_t err);
    void *ctx;
} external_ack_t;

/* delivery report -> publisher: the record whose produce failed, and why */
typedef struct produce_failed_msg {
    rt_msg_t hdr;
    struct record *record;
    rd_kafka_resp_err_t err;
} produce_failed_msg_t;

/* admin -> poller */
typedef struct admin_pause_msg {
    rt_msg_t hdr;
    bool pause;
    bool all;                     /* every partition, now and later */
    int npartitions;
    int32_t partitions[1024];
} admin_pause_msg_t;

/* admin -> poller: target offsets of the partitions this process owns */
typedef struct admin_reset_msg {
    rt_msg_t hdr;
    int n;
    int32_t partitions[256];
    int64_t offsets[256];
} admin_reset_msg_t;

typedef enum { ADMIN_GROUP_LAG, ADMIN_TOPIC_STATS } admin_query_kind_t;

/* http -> admin; reply(ctx, status, json) runs on the admin thread */
typedef struct admin_query_msg {
    rt_msg_t hdr;
    admin_query_kind_t kind;
    char group[256];
    char topic[256];
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
} admin_query_msg_t;

/* partition -> poller */
typedef struct partition_ctl_msg {
    rt_msg_t hdr;
    int32_t partition;
    bool pause;
} partition_ctl_msg_t;

/* poller -> partition: the committed position, its offset map, and the
 * records above it whose rows PostgreSQL has (the receiver takes `applied`) */
typedef struct assign_msg {
    rt_msg_t hdr;
    uint64_t generation;
    int64_t committed;            /* < 0: nothing committed yet */
    char metadata[OFFSET_MAP_MAX_BYTES];
    offset_map_t applied;
} assign_msg_t;

/* poller -> storage: a partition's offset committed in Kafka; its applied
 * offsets below it are not needed any more */
typedef struct prune_msg {
    rt_msg_t hdr;
    int32_t partition;
    int64_t below;
} prune_msg_t;

/* poller -> partition; asked (with a future) unless the partition is lost */
typedef struct revoke_msg {
    rt_msg_t hdr;
    bool lost;
} revoke_msg_t;

/* partition -> poller: the final commit of a revoked partition */
typedef struct commit_state_msg {
    rt_msg_t hdr;
    int32_t partition;
    int64_t offset;               /* < 0: nothing to commit */
    char metadata[OFFSET_MAP_MAX_BYTES];
} commit_state_msg_t;

/* syncs/admin -> classifier; when asked (syncs), the reply means every
 * later event of the sync is skipped */
typedef struct sync_cancelled_msg {
    rt_msg_t hdr;
    char sync_id[64];
} sync_cancelled_msg_t;

/* run -> llm: a reloaded configuration, whose limits apply from now on;
 * the llm actor keeps cfg (heap) */
typedef struct limits_msg {
    rt_msg_t hdr;
    config_t *cfg;
} limits_msg_t;

typedef enum { SYNC_STATUS, SYNC_CANCEL, BUDGET_STATUS } sync_request_kind_t;

/* http -> syncs (the HTTP plane's database questions); reply(ctx, status,
 * json) runs on the syncs thread */
typedef struct sync_request_msg {
    rt_msg_t hdr;
    sync_request_kind_t kind;
    char user[256], owner[256], repo[256];
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
} sync_request_msg_t;

#endif
