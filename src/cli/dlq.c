/*
 * dlq.c -- `dispatchd dlq list|replay [filters]`: the DLQ's inspection and
 * replay from the command line, by the same actor that serves the HTTP
 * paths (dlq_jobs.h), in a runtime of its own. Prints the answer's JSON;
 * exits 0, 1 when Kafka or the database failed it, 2 for a bad filter.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlq_jobs.h"
#include "kafka.h"
#include "log.h"
#include "publisher.h"

static const char *USAGE =
    "usage: dispatchd dlq list   [--from T] [--to T] [--key KEY] [--error-class C] [--limit N] [--config FILE]\n"
    "       dispatchd dlq replay [--from T] [--to T] [--key KEY] [--error-class C] [--limit N] [--dry-run]\n"
    "                            [--config FILE]\n"
    "\n"
    "list: the metadata of the DLQ records that match (offset, key, error, class, attempts, times, origin;\n"
    "never a title or body), at most --limit (default 100). replay: publishes the matching records to the\n"
    "input topic again (header replayed_from), except those replayed before; --dry-run only counts.\n"
    "T: ISO 8601 (2024-05-01T12:00:00Z) or Unix milliseconds, when the record entered the DLQ; C: permanent\n"
    "or transient.\n";

typedef struct answer {
    int status;                   /* 0 until answered */
    char *json;
} answer_t;

static void on_answer(void *ctx, int status, const char *json)
{
    answer_t *a = ctx;
    a->json = strdup(json);
    __atomic_store_n(&a->status, status, __ATOMIC_RELEASE);
}

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

/* --error-class is error_class, --dry-run dry_run. */
static const char *field_of(const char *flag, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", flag + 2);
    for (char *c = buf; *c; c++)
        if (*c == '-')
            *c = '_';
    return buf;
}

int cmd_dlq(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "replay") != 0)) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            printf("%s", USAGE);
            return 0;
        }
        cli_error("dlq: expected `list` or `replay`\n%s", USAGE);
        return EXIT_USAGE;
    }
    bool replay = strcmp(argv[1], "replay") == 0;
    const char *cfg_file = NULL;
    dlq_filter_t f;
    dlq_filter_init(&f);
    char err[512], name[64];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", USAGE);
            return 0;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            cfg_file = argv[++i];
        } else if (strcmp(a, "--dry-run") == 0 && replay) {
            f.dry_run = true;
        } else if ((strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0 || strcmp(a, "--key") == 0 ||
                    strcmp(a, "--error-class") == 0 || strcmp(a, "--limit") == 0) && i + 1 < argc) {
            if (dlq_filter_set(&f, field_of(a, name, sizeof(name)), argv[++i], err, sizeof(err)) != 0) {
                cli_error("dlq: %s", err);
                return EXIT_USAGE;
            }
        } else {
            cli_error("dlq: unknown or incomplete option '%s'\n%s", a, USAGE);
            return EXIT_USAGE;
        }
    }
    if (dlq_filter_check(&f, err, sizeof(err)) != 0) {
        cli_error("dlq: %s", err);
        return EXIT_USAGE;
    }
    if (!replay && f.limit > DLQ_LIST_MAX_LIMIT) {
        cli_error("dlq: limit: at most %d records a list (narrow the range)", DLQ_LIST_MAX_LIMIT);
        return EXIT_USAGE;
    }
    config_t cfg;
    if (config_load(&cfg, cfg_file, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    log_set_level((enum log_level)log_parse_level(cfg.log_level));
    int rc = 1;
    kafka_env_t kenv;
    if (kafka_env_open(&kenv, &cfg, false, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        config_free(&cfg);
        return 1;
    }
    rd_kafka_conf_t *conf = kafka_conf(&cfg, &kenv, KAFKA_PRODUCER, err, sizeof(err));
    if (conf == NULL) {
        cli_error("%s", err);
        kafka_env_close(&kenv);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        cli_error("kafka: %s", err);
        kafka_env_close(&kenv);
        config_free(&cfg);
        return 1;
    }
    pipeline_status_t status = {0};
    actor_addresses_t book = {0};
    actor_env_t env = {.cfg = &cfg, .kenv = &kenv, .rt = rt_create(1), .to = &book, .status = &status, .producer = rk};
    /* The input topic's metadata is asked for now, not on the first send. */
    rd_kafka_topic_t *raw = rd_kafka_topic_new(rk, cfg.topic_raw, NULL);
    rt_actor_t *a = dlq_jobs_spawn(&env);
    answer_t ans = {0};
    dlq_request_msg_t *m = rt_msg_new(sizeof(*m), MSG_DLQ_REQUEST);
    m->kind = replay ? DLQ_REPLAY : DLQ_LIST;
    m->filter = f;
    m->answer_within_ms = 7 * 24 * 3600 * 1000;   /* the whole replay: a command waits for its end */
    m->reply = on_answer;
    m->ctx = &ans;
    rt_send_force(a, m);
    while (__atomic_load_n(&ans.status, __ATOMIC_ACQUIRE) == 0)
        rd_kafka_poll(rk, 50);
    printf("%s\n", ans.json);
    if (ans.status == 200)
        rc = 0;
    else
        cli_error("dlq: %s failed (%d)", replay ? "replay" : "list", ans.status);
    free(ans.json);
    rd_kafka_flush(rk, 10000);
    rt_destroy(env.rt);
    rd_kafka_topic_destroy(raw);
    rd_kafka_destroy(rk);
    kafka_env_close(&kenv);
    config_free(&cfg);
    return rc;
}
