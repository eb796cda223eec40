/*
 * cli_host.h -- an actor of `dispatchd run` run by a command in a runtime
 * of its own (`dispatchd sync OWNER/REPO` runs the github actor, `dispatchd
 * dlq` the DLQ actor): the Kafka environment, a producer whose delivery
 * reports run the actors' external_ack_t (publisher.h), with the input
 * topic's metadata asked for at once, a runtime of one thread, and the
 * actor environment they make. The command asks its actor with a
 * request whose reply fills a cli_answer_t, and serves the producer's
 * reports while it waits.
 */
#ifndef DISPATCHD_CLI_HOST_H
#define DISPATCHD_CLI_HOST_H

#include "actors.h"
#include "config.h"
#include "kafka.h"

typedef struct cli_host {
    kafka_env_t kenv;
    rd_kafka_t *producer;
    rd_kafka_topic_t *raw;        /* held: its metadata asked for before the first send */
    pipeline_status_t status;
    actor_addresses_t book;
    actor_env_t env;
} cli_host_t;

/* 0, or an exit code after printing why. */
int cli_host_open(cli_host_t *h, const config_t *cfg);
/* Flushes the producer, stops the runtime, closes the clients. */
void cli_host_close(cli_host_t *h);

typedef struct cli_answer {
    int status;                   /* 0 until answered */
    char *json;                   /* malloc'd */
} cli_answer_t;

/* A reply function (reply(ctx, status, json)) filling the cli_answer_t ctx. */
void cli_answer(void *ctx, int status, const char *json);
/* Serves the producer's reports until *a is answered; its status. */
int cli_answer_wait(cli_host_t *h, cli_answer_t *a);

#endif
