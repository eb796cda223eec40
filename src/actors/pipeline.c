/*
 * pipeline.c -- the wiring of `dispatchd run`: builds the clients, spawns
 * the actors in the order they need each other and fills the address book
 * before any record flows; takes everything down in the order that loses
 * nothing: stop intake, drain, commit, flush.
 */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors.h"
#include "admin.h"
#include "broadcaster.h"
#include "classifier.h"
#include "consistency.h"
#include "dlq_jobs.h"
#include "dlq_retry.h"
#include "faults.h"
#include "github_sync.h"
#include "llm.h"
#include "log.h"
#include "metrics.h"
#include "poller.h"
#include "publisher.h"
#include "storage.h"
#include "sync_requests.h"

struct pipeline {
    actor_env_t env;                    /* what every actor is handed */
    actor_addresses_t to;               /* the address book env.to points to */
    pipeline_status_t status;           /* what env.status points to */
    ws_feed_t *feed;                    /* broadcaster -> the control plane's /ws */
    latest_t *health_doc, *status_doc;  /* consistency -> the control plane */
};

static ordering_t parse_ordering(const char *s)
{
    if (strcmp(s, "partition") == 0)
        return ORDER_PARTITION;
    if (strcmp(s, "unordered") == 0)
        return ORDER_UNORDERED;
    return ORDER_KEY;
}

pipeline_t *pipeline_start(const config_t *cfg, kafka_env_t *kenv, char *err, size_t errlen, int *code)
{
    pipeline_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    faults_init(cfg);
    actor_env_t *env = &p->env;
    env->cfg = cfg;
    env->kenv = kenv;
    env->to = &p->to;
    env->status = &p->status;
    env->ordering = parse_ordering(cfg->ordering);
    env->noop = strcmp(cfg->stages, "noop") == 0;
    env->classify_only = strcmp(cfg->stages, "classify") == 0;
    p->status.daily_limit = cfg->daily_limit;
    __atomic_store_n(&g_metrics.budget_daily_limit, cfg->daily_limit, __ATOMIC_RELAXED);
    p->status.user_daily_limit = cfg->user_daily_limit;
    *code = 2;
    rd_kafka_conf_t *pconf = kafka_conf(cfg, kenv, KAFKA_PRODUCER, err, errlen);
    if (pconf == NULL)
        goto fail;
    rd_kafka_conf_t *cconf = kafka_conf(cfg, kenv, KAFKA_CONSUMER, err, errlen);
    if (cconf == NULL) {
        rd_kafka_conf_destroy(pconf);
        goto fail;
    }
    *code = 1;
    env->rt = rt_create(cfg->threads);
    publisher_install_delivery_cb(env, pconf);
    env->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, errlen);
    if (env->producer == NULL) {
        rd_kafka_conf_destroy(cconf);
        goto fail;
    }
    env->max_message_bytes = pipeline_max_message_bytes(cfg, env->producer);
    /* Downstream first: each actor's addressees exist before it does. */
    for (int i = 0; i < cfg->storage_connections && i < PIPELINE_MAX_STORAGE; i++) {
        p->to.storage[i] = storage_spawn(env, i, err, errlen);
        if (p->to.storage[i] == NULL) {
            rd_kafka_conf_destroy(cconf);
            goto fail;
        }
        p->to.nstorage++;
    }
    p->to.publisher = publisher_spawn(env);
    if (strcmp(cfg->classifier, "openai") == 0 || strcmp(cfg->classifier, "cascade") == 0)
        p->to.llm = llm_spawn(env);
    p->to.classifier = classifier_spawn(env, err, errlen);
    if (p->to.classifier == NULL) {
        rd_kafka_conf_destroy(cconf);
        *code = 2;
        goto fail;
    }
    if (dlq_retry_enabled(cfg)) {
        /* Before the poller: its first assignment hands it partitions. */
        p->to.dlq_retry = dlq_retry_spawn(env, err, errlen);
        if (p->to.dlq_retry == NULL) {
            rd_kafka_conf_destroy(cconf);
            goto fail;
        }
    }
    p->to.dlq = dlq_jobs_spawn(env);
    p->to.syncs = sync_requests_spawn(env);   /* cancelled syncs reach the classifier before any record */
    p->to.github = github_sync_spawn(env, NULL);
    p->to.poller = poller_spawn(env, cconf, &env->consumer, err, errlen);
    if (p->to.poller == NULL)
        goto fail;
    p->to.admin = admin_spawn(env, err, errlen);
    if (p->to.admin == NULL)
        goto fail;
    p->health_doc = latest_new();
    p->status_doc = latest_new();
    p->to.consistency = consistency_spawn(env, p->health_doc, p->status_doc, err, errlen);
    if (p->to.consistency == NULL)
        goto fail;
    p->feed = ws_feed_new();
    p->to.broadcaster = broadcaster_spawn(env, p->feed, err, errlen);
    if (p->to.broadcaster == NULL)
        goto fail;
    log_info("pipeline", "consuming %s as group %s (ordering %s, max_inflight %d, %d threads, classifier %s)",
             cfg->topic_raw, cfg->group_id, cfg->ordering, cfg->max_inflight, rt_threads(env->rt), cfg->classifier);
    return p;
fail:
    if (p->to.publisher)
        publisher_stop(p->to.publisher);
    if (env->rt)
        rt_destroy(env->rt);
    if (env->consumer)
        rd_kafka_destroy(env->consumer);
    if (env->producer)
        rd_kafka_destroy(env->producer);
    ws_feed_free(p->feed);
    latest_free(p->health_doc);
    latest_free(p->status_doc);
    free(p);
    return NULL;
}

/* An input record must leave room for its classification in the enriched
 * event, which the producer sends whole or not at all. */
#define ENRICHED_MARGIN_BYTES 65536

size_t pipeline_max_message_bytes(const config_t *cfg, rd_kafka_t *producer)
{
    size_t produce_max = kafka_produce_max_bytes(producer);
    size_t fits = produce_max > 2 * ENRICHED_MARGIN_BYTES ? produce_max - ENRICHED_MARGIN_BYTES : produce_max / 2;
    if (cfg->max_message_bytes > 0 && (size_t)cfg->max_message_bytes < fits)
        return (size_t)cfg->max_message_bytes;
    if (cfg->max_message_bytes > 0)
        log_warn("pipeline", "max_message_bytes %d leaves no room for the classification under the producer's "
                 "message.max.bytes %zu; using %zu", cfg->max_message_bytes, produce_max, fits);
    return fits;
}

/* A consumer pipeline_stop could not destroy (poller_closed_msg_t), kept
 * reachable so that leak checkers do not count it. */
static rd_kafka_t *left_to_exit;

int pipeline_stop(pipeline_t *p, void (*step)(const char *))
{
    actor_env_t *env = &p->env;
    __atomic_store_n(&p->status.stopping, 1, __ATOMIC_RELEASE);
    step("draining in-flight records");
    rt_send_force(p->to.poller, rt_msg_new(sizeof(rt_msg_t), MSG_STOP_INTAKE));
    uint64_t deadline = rt_now_ms() + (uint64_t)env->cfg->drain_timeout_ms;
    while (__atomic_load_n(&p->status.inflight, __ATOMIC_ACQUIRE) > 0 && rt_now_ms() < deadline)
        usleep(10000);
    long left = (long)__atomic_load_n(&p->status.inflight, __ATOMIC_ACQUIRE);
    if (left > 0)
        log_warn("pipeline", "drain timed out with %ld records in flight; abandoned, the next owner redoes them",
                 left);
    else
        log_info("pipeline", "drained");
    __atomic_store_n(&p->status.closing, 1, __ATOMIC_RELEASE);
    /* Closing commits the stored offsets and leaves the group. It can wait
     * on the broker or on fetched messages still referenced: the caller's
     * bound on the whole shutdown covers it. */
    step("closing the consumer (commit, leave the group)");
    rt_future_t *f = rt_future_new();
    rt_ask_future(p->to.poller, rt_msg_new(sizeof(rt_msg_t), MSG_CLOSE), f);
    rt_msg_t *closed = rt_future_wait(f, 86400000);
    bool destroy_safe = closed == NULL || ((poller_closed_msg_t *)closed)->destroy_safe;
    if (closed != NULL)
        rt_msg_free(closed);
    step("flushing the producer");
    publisher_stop(p->to.publisher);
    int failed = __atomic_load_n(&p->status.failed, __ATOMIC_ACQUIRE);
    log_info("pipeline", "totals: ok=%lu skipped=%lu dlq=%lu rows_written=%lu",
             (unsigned long)g_metrics.records[RESULT_OK], (unsigned long)g_metrics.records[RESULT_SKIPPED],
             (unsigned long)g_metrics.records[RESULT_DLQ], (unsigned long)g_metrics.db_rows);
    step("stopping the actors");
    rt_destroy(env->rt);
    step("destroying the consumer");
    if (destroy_safe) {
        rd_kafka_destroy(env->consumer);
    } else {
        left_to_exit = env->consumer;
        log_warn("pipeline", "stopped while joining the group, before a first assignment: the consumer is left "
                             "to the process's exit (this librdkafka aborts destroying it then)");
    }
    step("destroying the producer");
    rd_kafka_destroy(env->producer);
    ws_feed_free(p->feed);
    latest_free(p->health_doc);
    latest_free(p->status_doc);
    faults_shutdown();
    free(p);
    return failed ? -1 : left > 0 ? (int)left : 0;
}

void pipeline_reload_limits(pipeline_t *p, config_t *fresh)
{
    __atomic_store_n(&p->status.daily_limit, fresh->daily_limit, __ATOMIC_RELEASE);
    __atomic_store_n(&g_metrics.budget_daily_limit, fresh->daily_limit, __ATOMIC_RELAXED);
    __atomic_store_n(&p->status.user_daily_limit, fresh->user_daily_limit, __ATOMIC_RELEASE);
    if (p->to.llm == NULL) {
        config_free(fresh);
        free(fresh);
        return;
    }
    limits_msg_t *m = rt_msg_new(sizeof(*m), MSG_LIMITS);
    m->cfg = fresh;
    rt_send_force(p->to.llm, m);
}

pipeline_view_t pipeline_view(const pipeline_t *p)
{
    return (pipeline_view_t){
        .status = &p->status,
        .rt = p->env.rt,
        .producer = p->env.producer,
        .max_message_bytes = p->env.max_message_bytes,
        .admin = p->to.admin,
        .syncs = p->to.syncs,
        .github = p->to.github,
        .dlq = p->to.dlq,
        .health_doc = p->health_doc,
        .status_doc = p->status_doc,
        .ws_feed = p->feed,
    };
}
