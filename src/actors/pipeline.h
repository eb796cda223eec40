/*
 * pipeline.h -- the actors of `dispatchd run` and what they share.
 *
 *   poller (dedicated: rd_kafka_consumer_poll, rebalances, pause/resume)
 *     -> partition-consumer, one per partition (ordering, offsets, DLQ)
 *       -> classifier -> storage (dedicated: libpq, batched)
 *         -> publisher (enriched / DLQ produce; delivery reports)
 *           -> partition-consumer (done: store offset)
 */
#ifndef DISPATCHD_PIPELINE_H
#define DISPATCHD_PIPELINE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "config.h"
#include "kafka.h"
#include "record.h"
#include "runtime.h"
#include "strbuf.h"
#include <libpq-fe.h>

#define PIPELINE_MAX_PARTITIONS 1024
#define PIPELINE_MAX_STORAGE 64

typedef enum { ORDER_PARTITION, ORDER_KEY, ORDER_UNORDERED } ordering_t;

/* Per-partition figures for metrics and the status endpoints: written by the
 * partition's actor (and the poller), read by the HTTP thread. Plain int64
 * fields read and written with relaxed atomics. */
typedef struct partition_stats {
    /* all fields: read and written with pstat_get / pstat_set */
    int64_t assigned;
    int64_t committed;            /* last committed offset, -1 none */
    int64_t taken;                /* one past the highest offset taken */
    int64_t incomplete;           /* taken, not yet below the commit point */
    int64_t inflight;
    int64_t map_bytes;            /* offset-map estimate */
    int64_t paused;
    int64_t queued;               /* handed to the partition-consumer, not yet taken */
    int64_t high_watermark;       /* from the broker, refreshed off the event loop */
    int64_t generation;           /* the poller's assignment generation: a record of
                                     another one is stale (revoked or reset) */
} partition_stats_t;

typedef struct pipeline {
    const config_t *cfg;
    kafka_env_t *kenv;
    rt_runtime_t *rt;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    size_t max_message_bytes;           /* larger input records go to the DLQ (resolved at start) */
    ordering_t ordering;
    bool noop;                          /* [pipeline] stages = noop */
    int64_t daily_limit;                /* the budget in force (a SIGHUP reloads it) */
    int64_t user_daily_limit;
    uint64_t generations_changed;       /* bumped with any partition's generation
                                           (revoke, reset): stale records to drop */
    bool classify_only;                 /* [pipeline] stages = classify */
    rt_actor_t *poller;
    rt_actor_t *classifier;
    rt_actor_t *storage[PIPELINE_MAX_STORAGE];   /* [pipeline] storage_connections */
    int nstorage;
    rt_actor_t *publisher;
    rt_actor_t *admin;
    rt_actor_t *syncs;
    rt_actor_t *llm;                    /* NULL unless the provider calls an LLM */
    rt_actor_t *partitions[PIPELINE_MAX_PARTITIONS];
    partition_stats_t pstats[PIPELINE_MAX_PARTITIONS];
    int stopping;                       /* intake stopped (atomic) */
    int closing;                        /* drained or given up: stages stop (atomic) */
    int admin_paused_all;               /* a fleet-wide pause is in force (atomic) */
    int failed;                         /* the consumer failed for good: run exits 1 (atomic) */
    int raw_partitions;                 /* the input topic's partition count, 0 until the admin
                                           actor learns it (atomic) */
} pipeline_t;

/* Builds clients and actors; NULL with a message on failure. The exit code
 * for the failure (2 configuration, 1 other) goes to *code. */
pipeline_t *pipeline_start(const config_t *cfg, kafka_env_t *kenv, char *err, size_t errlen, int *code);
/* The largest input record that can be classified and published: the
 * configured max_message_bytes (0: automatic), capped below the producer's
 * message.max.bytes with room for the classification. */
size_t pipeline_max_message_bytes(const config_t *cfg, rd_kafka_t *producer);
/* Stops intake, waits up to drain_timeout_ms for in-flight records, commits
 * and tears everything down, naming each step to step(). Returns how many
 * records were abandoned in flight (0: a clean stop). Steps that wait on
 * librdkafka are unbounded here: the caller bounds the whole. -1: the
 * consumer had failed for good (the stop was the pipeline's own). */
int pipeline_stop(pipeline_t *p, void (*step)(const char *));

/* Actor factories (each file owns its actor). */
rt_actor_t *partition_actor_spawn(pipeline_t *p, int32_t partition);
/* Creates the consumer from conf (consumed), subscribes and starts polling. */
rt_actor_t *poller_spawn(pipeline_t *p, rd_kafka_conf_t *conf, char *err, size_t errlen);
/* NULL with err when the configured provider cannot run (2: configuration). */
rt_actor_t *classifier_spawn(pipeline_t *p, char *err, size_t errlen);
rt_actor_t *storage_spawn(pipeline_t *p, int index, char *err, size_t errlen);
rt_actor_t *publisher_spawn(pipeline_t *p);
void publisher_install_delivery_cb(pipeline_t *p, rd_kafka_conf_t *conf);
void publisher_stop(pipeline_t *p);
rt_actor_t *admin_spawn(pipeline_t *p, char *err, size_t errlen);
rt_actor_t *syncs_spawn(pipeline_t *p);
rt_actor_t *llm_spawn(pipeline_t *p);
/* SIGHUP: the limits of a reloaded configuration (fresh, which this takes)
 * apply from now on: daily and per-user budgets, requests and tokens per
 * minute. Other keys need a restart. */
void pipeline_reload_limits(pipeline_t *p, config_t *fresh);
/* A record classified (or a replay): on to its storage actor, or finished
 * here with [pipeline] stages = classify. */
void pipeline_classified(pipeline_t *p, record_t *r);

static inline partition_stats_t *pipeline_partition_stats(pipeline_t *p, int32_t partition)
{
    return &p->pstats[partition];
}

static inline void pstat_set(int64_t *field, int64_t v) { __atomic_store_n(field, v, __ATOMIC_RELAXED); }
static inline int64_t pstat_get(const int64_t *field) { return __atomic_load_n(field, __ATOMIC_RELAXED); }

/* The storage actor of an issue: always the same one, so versions of one
 * issue are written in order and two connections never wait on each
 * other's row locks. */
static inline rt_actor_t *pipeline_storage_for(const pipeline_t *p, int64_t issue_id)
{
    return p->storage[(uint64_t)issue_id % (uint64_t)p->nstorage];
}

/* After a crash: notes as published the enriched events Kafka has but the
 * database never noted, so that replays do not send them again. Returns
 * how many it noted, -1 when it could not look. */
int reconcile_published(pipeline_t *p, PGconn *db);

/* A record whose partition was revoked or reset since it was taken: its
 * effects no longer count (the next owner or position reads it again), so
 * a paid call for it is waste. */
static inline bool pipeline_record_stale(pipeline_t *p, const record_t *r)
{
    return r->generation != (uint64_t)pstat_get(&p->pstats[r->partition].generation);
}

/* Sends a record that failed for good to the DLQ via the publisher. */
void pipeline_dead_letter(pipeline_t *p, record_t *r, error_class_t cls, const char *error);

#endif
