/*
 * poller_internal.h -- the poller's state, shared by its own files only:
 * poller.c (rounds, holds, fleet commands) and poller_rebalance.c
 * (assignment and revocation). Others reach the poller through poller.h.
 */
#ifndef DISPATCHD_POLLER_INTERNAL_H
#define DISPATCHD_POLLER_INTERNAL_H

#include <libpq-fe.h>

#include "offset_map.h"
#include "kafka_wake.h"
#include "poller.h"

typedef struct poller_state {
    const actor_env_t *env;
    rt_actor_t *self;
    rd_kafka_t *consumer;                      /* its own; pipeline.c destroys it */
    rt_actor_t *partitions[PIPELINE_MAX_PARTITIONS];   /* partition-consumers it spawned */
    bool round_queued;                         /* a MSG_POLL to itself is on its way */
    kafka_wake_t wake;                         /* its queues wake it (MSG_POLLER_WAKE) */
    uint64_t generation[PIPELINE_MAX_PARTITIONS];
    bool assigned[PIPELINE_MAX_PARTITIONS];
    rd_kafka_queue_t *queues[PIPELINE_MAX_PARTITIONS];
    bool wants_pause[PIPELINE_MAX_PARTITIONS]; /* asked by the partition-consumer */
    bool held[PIPELINE_MAX_PARTITIONS];        /* not taken from this round */
    uint64_t held_since_ms[PIPELINE_MAX_PARTITIONS];
    bool paused[PIPELINE_MAX_PARTITIONS];      /* paused in librdkafka */
    bool admin_all;                            /* fleet pause of every partition */
    bool admin_part[PIPELINE_MAX_PARTITIONS];  /* fleet pause of listed partitions */
    bool stopped;
    bool assigned_once;                        /* a rebalance has assigned (the assignor has its state) */
    rd_kafka_queue_t *consumer_queue;          /* rebalances, errors, commit results */
    PGconn *db;                                /* reads applied offsets on assignment */
    int64_t assign_from[PIPELINE_MAX_PARTITIONS];          /* scratch of on_assign */
    offset_map_t assign_applied[PIPELINE_MAX_PARTITIONS];  /* scratch of on_assign */
} poller_state_t;

/* poller.c: a partition's next assignment generation, published, so that
 * records of the earlier one are known to be stale */
uint64_t poller_next_generation(poller_state_t *s, int32_t partition);
/* The partition's retry path goes with it: the DLQ-retry actor reads its
 * retry partition for this generation (nothing when the path is off). */
void poller_retry_assign(poller_state_t *s, int32_t partition, uint64_t generation);

/* poller_rebalance.c: librdkafka's callbacks, set on the consumer's conf */
void poller_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque);
void poller_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                      void *opaque);

#endif
