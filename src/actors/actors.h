/*
 * actors.h -- what every actor of `dispatchd run` is handed at spawn: the
 * configuration, the clients it may use, the published status, and the
 * address book through which it reaches the others (by message only).
 *
 *   poller (dedicated: the consumer, rebalances, pause/resume)
 *     -> partition-consumer, one per partition (ordering, offsets)
 *       -> classifier (-> llm) -> storage (dedicated: libpq, batched)
 *         -> publisher (enriched / DLQ produce; delivery reports)
 *           -> partition-consumer (done: the offset may be committed)
 *   dlq-retry (the retry path: records whose transient failures outlast
 *     the in-process retries, until they are due again -> classifier ...)
 *   dlq (DLQ inspection and replay -> issues.raw),
 *   consistency (the snapshot behind GET /health/consistency)
 *   admin (fleet commands, broker queries), syncs (sync requests),
 *   broadcaster (the enriched topic and sync changes -> /ws),
 *   github (syncs from the GitHub API -> issues.raw)
 *
 * Each actor's own header (poller.h, partition.h, ...) declares its spawn
 * function and the messages it accepts; its state is private to its .c.
 * pipeline.c spawns them in order and fills the book before intake starts.
 */
#ifndef DISPATCHD_ACTORS_H
#define DISPATCHD_ACTORS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "kafka.h"
#include "record.h"
#include "runtime.h"
#include "status.h"

#define PIPELINE_MAX_STORAGE 64

typedef enum { ORDER_PARTITION, ORDER_KEY, ORDER_UNORDERED } ordering_t;

/* The address book. Partition-consumers are not in it: the poller spawns
 * them, and a record carries its own (record_t.owner). */
typedef struct actor_addresses {
    rt_actor_t *poller;
    rt_actor_t *classifier;
    rt_actor_t *llm;                    /* NULL unless the provider calls an LLM */
    rt_actor_t *storage[PIPELINE_MAX_STORAGE];   /* [pipeline] storage_connections */
    int nstorage;
    rt_actor_t *publisher;
    rt_actor_t *admin;
    rt_actor_t *syncs;
    rt_actor_t *broadcaster;
    rt_actor_t *github;
    rt_actor_t *dlq_retry;              /* NULL when the retry path is off */
    rt_actor_t *dlq;                    /* DLQ inspection and replay */
    rt_actor_t *consistency;            /* GET /health/consistency's snapshot */
} actor_addresses_t;

typedef struct actor_env {
    const config_t *cfg;
    kafka_env_t *kenv;
    rt_runtime_t *rt;
    const actor_addresses_t *to;
    pipeline_status_t *status;
    rd_kafka_t *producer;               /* thread-safe: enriched, DLQ, control */
    rd_kafka_t *consumer;               /* the poller's; partition-consumers commit on it */
    size_t max_message_bytes;           /* larger input records go to the DLQ */
    ordering_t ordering;
    bool noop;                          /* [pipeline] stages = noop */
    bool classify_only;                 /* [pipeline] stages = classify */
} actor_env_t;

static inline partition_stats_t *env_partition(const actor_env_t *env, int32_t partition)
{
    return &env->status->partitions[partition];
}

/* A record whose partition was revoked or reset since it was taken: its
 * effects no longer count (the next owner or position reads it again), so
 * a paid call for it is waste. */
static inline bool record_stale(const actor_env_t *env, const record_t *r)
{
    return r->generation != (uint64_t)pstat_get(&env->status->partitions[r->partition].generation);
}

/* Records taken and not finished: the gauge and the count shutdown's drain
 * waits on, moved together. */
static inline void env_inflight_add(const actor_env_t *env, int64_t n)
{
    gauge_add(&g_metrics.inflight, n);
    __atomic_add_fetch(&env->status->inflight, n, __ATOMIC_ACQ_REL);
}

static inline bool env_stopping(const actor_env_t *env)
{
    return __atomic_load_n(&env->status->stopping, __ATOMIC_ACQUIRE) != 0;
}

#endif
