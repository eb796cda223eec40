/*
 * status.h -- the facts the pipeline publishes for readers it does not
 * know (the HTTP plane, the metrics, other actors): plain fields, each
 * written by one owner named beside it and read with atomic loads
 * (pstat_get / __atomic_load_n). Nothing here is a channel between actors:
 * they talk with messages; these are the figures anyone may look at.
 */
#ifndef DISPATCHD_STATUS_H
#define DISPATCHD_STATUS_H

#include <stdint.h>

#define PIPELINE_MAX_PARTITIONS 1024

/* Why a partition-consumer asks to be held. */
enum { PARTITION_PAUSE_INFLIGHT = 1, PARTITION_PAUSE_DOWNSTREAM = 2, PARTITION_PAUSE_OFFSET_MAP = 4 };

/* One input partition, as this process sees it. */
typedef struct partition_stats {
    int64_t assigned;             /* poller; the partition-consumer clears it when revoked */
    int64_t committed;            /* partition-consumer (poller on reset): last committed offset, -1 none */
    int64_t taken;                /* partition-consumer: one past the highest offset taken */
    int64_t incomplete;           /* partition-consumer: taken, not yet below the commit point */
    int64_t inflight;             /* partition-consumer */
    int64_t map_bytes;            /* partition-consumer: offset-map estimate */
    int64_t paused;               /* poller: held (not taken from) */
    int64_t admin_held;           /* poller: an operator paused this partition (alone) */
    int64_t pause_why;            /* partition-consumer: why it asks to be held
                                     (PARTITION_PAUSE_* bits) */
    int64_t queued;               /* poller adds what it hands over, the partition-consumer
                                     subtracts what it takes: the hold at max_inflight */
    int64_t high_watermark;       /* admin: from the broker, refreshed every few seconds */
    int64_t generation;           /* poller: the assignment generation; a record of another
                                     one is stale (revoked or reset) */
} partition_stats_t;

typedef struct pipeline_status {
    partition_stats_t partitions[PIPELINE_MAX_PARTITIONS];
    uint64_t generations_changed; /* poller: bumped with any partition's generation */
    int64_t inflight;             /* partition-consumers: records taken and not finished;
                                     what shutdown's drain waits on */
    int stopping;                 /* pipeline_stop: intake stopped */
    int closing;                  /* pipeline_stop: drained or given up, stages stop */
    int failed;                   /* poller: the consumer failed for good (run exits 1) */
    int admin_paused_all;         /* poller: a fleet-wide pause is in force */
    int raw_partitions;           /* admin: the input topic's partition count, 0 until known */
    int64_t daily_limit;          /* run (SIGHUP): the budgets in force */
    int64_t user_daily_limit;
} pipeline_status_t;

static inline void pstat_set(int64_t *field, int64_t v) { __atomic_store_n(field, v, __ATOMIC_RELAXED); }
static inline int64_t pstat_get(const int64_t *field) { return __atomic_load_n(field, __ATOMIC_RELAXED); }

#endif
