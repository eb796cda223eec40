/*
 * partition.h -- the partition-consumer: one per assigned partition, spawned
 * by the poller. It parses its records, keeps their key order, tracks which
 * offsets are finished and commits the contiguous prefix (with an offset map
 * of what finished above it), and asks the poller to hold the partition when
 * too much is in flight or downstream is pressured.
 */
#ifndef DISPATCHD_PARTITION_H
#define DISPATCHD_PARTITION_H

#include "actors.h"
#include "offset_map.h"

enum partition_msg {
    MSG_RECORDS = RT_MSG_USER + 0x100, /* poller: record_batch_msg_t */
    MSG_ASSIGN,                        /* poller: assign_msg_t, a new generation */
    MSG_REVOKE,                        /* poller: revoke_msg_t; asked unless lost, answered
                                          with commit_state_msg_t */
    MSG_COMMIT_STATE,                  /* the answer to MSG_REVOKE */
    MSG_DONE,                          /* any stage: a record_t finished (or dropped) */
    MSG_PARKED,                        /* DLQ-retry: parked_msg_t, keys in the retry path */
    MSG_RETRY_COMMITTED,               /* DLQ-retry: retry_committed_msg_t */
};

/* Records fetched from one partition, in offset order. The
 * partition-consumer makes the records: on its own worker, from that
 * worker's message pool, rather than on the poller's thread. */
#define RECORD_BATCH_MAX 256
typedef struct record_batch_msg {
    rt_msg_t hdr;
    uint64_t generation;
    int n;
    rd_kafka_message_t *msgs[RECORD_BATCH_MAX];
} record_batch_msg_t;

/* The committed position, its offset map, and the records above it whose
 * rows PostgreSQL has (the receiver takes `applied`). */
typedef struct assign_msg {
    rt_msg_t hdr;
    uint64_t generation;
    int64_t committed;            /* < 0: nothing committed yet */
    char metadata[OFFSET_MAP_MAX_BYTES];
    offset_map_t applied;
} assign_msg_t;

typedef struct revoke_msg {
    rt_msg_t hdr;
    bool lost;
} revoke_msg_t;

/* A revoked partition's final commit, for the poller to make. */
typedef struct commit_state_msg {
    rt_msg_t hdr;
    int32_t partition;
    int64_t offset;               /* < 0: nothing to commit */
    char metadata[OFFSET_MAP_MAX_BYTES];
} commit_state_msg_t;

/* Keys with records in this partition's retry partition, read from its
 * backlog on assignment: their later records follow them there. Nothing
 * of the partition starts until the `complete` one. */
#define PARKED_BATCH 32
typedef struct parked_msg {
    rt_msg_t hdr;
    uint64_t generation;
    int32_t retry_partition;
    bool complete;
    int n;
    struct {
        int64_t offset;           /* the key's record there */
        char key[320];
    } keys[PARKED_BATCH];
} parked_msg_t;

/* The retry partition's commit point moved: keys whose records are all
 * below it are let go. */
typedef struct retry_committed_msg {
    rt_msg_t hdr;
    uint64_t generation;
    int32_t retry_partition;
    int64_t committed;
} retry_committed_msg_t;

rt_actor_t *partition_spawn(const actor_env_t *env, int32_t partition);

#endif
