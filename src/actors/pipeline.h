/*
 * pipeline.h -- `dispatchd run`'s pipeline as a whole: built, reloaded and
 * stopped from here; what the HTTP plane may see of it (pipeline_view).
 * The actors themselves and what they share are in actors.h; the wiring
 * (spawn order, address book, shutdown order) is pipeline.c.
 */
#ifndef DISPATCHD_PIPELINE_H
#define DISPATCHD_PIPELINE_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config.h"
#include "kafka.h"
#include "latest.h"
#include "runtime.h"
#include "status.h"

typedef struct pipeline pipeline_t;

/* Builds clients and actors; NULL with a message on failure. The exit code
 * for the failure (2 configuration, 1 other) goes to *code. */
pipeline_t *pipeline_start(const config_t *cfg, kafka_env_t *kenv, char *err, size_t errlen, int *code);
/* Stops intake, waits up to drain_timeout_ms for in-flight records, commits
 * and tears everything down, naming each step to step(). Returns how many
 * records were abandoned in flight (0: a clean stop). Steps that wait on
 * librdkafka are unbounded here: the caller bounds the whole. -1: the
 * consumer had failed for good (the stop was the pipeline's own). */
int pipeline_stop(pipeline_t *p, void (*step)(const char *));
/* SIGHUP: the limits of a reloaded configuration (fresh, which this takes)
 * apply from now on: daily and per-user budgets, requests and tokens per
 * minute. Other keys need a restart. */
void pipeline_reload_limits(pipeline_t *p, config_t *fresh);

/* The largest input record that can be classified and published: the
 * configured max_message_bytes (0: automatic), capped below the producer's
 * message.max.bytes with room for the classification. */
size_t pipeline_max_message_bytes(const config_t *cfg, rd_kafka_t *producer);

/* What the HTTP plane reads and whom it may ask. */
typedef struct pipeline_view {
    const pipeline_status_t *status;
    rt_runtime_t *rt;                   /* for the mailbox depths */
    rd_kafka_t *producer;               /* webhooks and commands are produced on it */
    size_t max_message_bytes;           /* larger webhook deliveries are refused */
    rt_actor_t *admin;                  /* admin.h: broker questions */
    rt_actor_t *syncs;                  /* sync_requests.h: sync and budget questions */
    rt_actor_t *github;                 /* github_sync.h: syncs from the GitHub API */
    rt_actor_t *dlq;                    /* dlq_jobs.h: DLQ inspection and replay */
    latest_t *health_doc;               /* consistency.h: GET /health/consistency's document */
    latest_t *status_doc;               /* ... and GET /api/status's */
    struct ws_feed *ws_feed;            /* broadcaster.h: what /ws sends */
} pipeline_view_t;

pipeline_view_t pipeline_view(const pipeline_t *p);

#endif
