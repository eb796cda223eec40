/*
 * cli_host.c -- see cli_host.h.
 */
#include "cli_host.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "publisher.h"

/* The producer's delivery reports: every message here is the actor's. */
static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    external_ack_t *ack = m->_private;
    if (ack == NULL)
        return;
    ack->done(ack->ctx, m->err);
    rt_msg_free(ack);
}

int cli_host_open(cli_host_t *h, const config_t *cfg)
{
    memset(h, 0, sizeof(*h));
    char err[512];
    if (kafka_env_open(&h->kenv, cfg, false, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        return 1;
    }
    rd_kafka_conf_t *conf = kafka_conf(cfg, &h->kenv, KAFKA_PRODUCER, err, sizeof(err));
    if (conf == NULL) {
        cli_error("%s", err);
        kafka_env_close(&h->kenv);
        return EXIT_USAGE;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    h->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (h->producer == NULL) {
        cli_error("kafka: %s", err);
        kafka_env_close(&h->kenv);
        return 1;
    }
    h->raw = rd_kafka_topic_new(h->producer, cfg->topic_raw, NULL);
    h->env = (actor_env_t){.cfg = cfg, .kenv = &h->kenv, .rt = rt_create(1), .to = &h->book, .status = &h->status,
                           .producer = h->producer};
    return 0;
}

void cli_host_close(cli_host_t *h)
{
    __atomic_store_n(&h->status.stopping, 1, __ATOMIC_RELEASE);
    rd_kafka_flush(h->producer, 10000);
    rt_destroy(h->env.rt);
    if (h->raw)
        rd_kafka_topic_destroy(h->raw);
    rd_kafka_destroy(h->producer);
    kafka_env_close(&h->kenv);
}

void cli_answer(void *ctx, int status, const char *json)
{
    cli_answer_t *a = ctx;
    a->json = strdup(json);
    __atomic_store_n(&a->status, status, __ATOMIC_RELEASE);
}

int cli_answer_wait(cli_host_t *h, cli_answer_t *a)
{
    while (__atomic_load_n(&a->status, __ATOMIC_ACQUIRE) == 0)
        rd_kafka_poll(h->producer, 50);
    return a->status;
}
