/*
 * kafka.h -- librdkafka set-up shared by every command: where the brokers
 * are (a real cluster, or the in-process mock cluster for `embedded`), client
 * configuration from the [kafka] section, and topic creation.
 */
#ifndef DISPATCHD_KAFKA_H
#define DISPATCHD_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>

#include "config.h"

typedef struct kafka_env {
    char bootstrap[512];
    bool embedded;
    rd_kafka_t *mock_owner;            /* keeps the mock cluster alive */
    rd_kafka_mock_cluster_t *mock;
    char state_file[512];
} kafka_env_t;

typedef enum { KAFKA_PRODUCER, KAFKA_CONSUMER, KAFKA_ADMIN } kafka_role_t;

/* With `embedded`, `host_mock` starts a mock cluster in this process and
 * publishes its address in the state directory; otherwise the address of a
 * running `dispatchd run`'s mock cluster is read from there. */
int kafka_env_open(kafka_env_t *env, const config_t *cfg, bool host_mock, char *err, size_t errlen);
void kafka_env_close(kafka_env_t *env);

/* A configuration for one client. NULL on a bad [kafka] property, with a
 * message naming it; the caller exits 2 then. */
rd_kafka_conf_t *kafka_conf(const config_t *cfg, const kafka_env_t *env, kafka_role_t role,
                            char *err, size_t errlen);

/* A topic's specification: name, partitions, replication, configs. */
typedef struct topic_spec {
    const char *name;
    int partitions;
    long long retention_ms;
    const char *cleanup_policy;
} topic_spec_t;

/* The topics dispatchd uses: raw, enriched, DLQ, control, retry. */
#define KAFKA_TOPICS 5

/* Fills specs (KAFKA_TOPICS of them) from the configuration; returns how many. */
int kafka_topic_specs(const config_t *cfg, topic_spec_t *specs);
/* Creates missing topics; reports (never changes) existing ones whose
 * partition count differs. Returns the number of problems, -1 on error. */
int kafka_topics_ensure(const config_t *cfg, const kafka_env_t *env, bool verbose, char *err, size_t errlen);

/* Header helpers. */
const char *kafka_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t buflen);
/* A header's bytes in place (msg: an rd_kafka_message_t; NULL when absent),
 * and one added to a list (headers: an rd_kafka_headers_t): the shapes of
 * retry_meta's callbacks. */
const char *kafka_header_view(void *msg, const char *name, size_t *len);
void kafka_header_put(void *headers, const char *name, const char *value);

/* Produce errors that no retry can cure (the record, or the topic, will
 * never take this message), and among them the ones about its size. */
bool kafka_produce_error_permanent(rd_kafka_resp_err_t e);
bool kafka_produce_error_size(rd_kafka_resp_err_t e);
/* A group's committed offsets of partitions 0..n-1 of topic, asked of the
 * group's coordinator (any member's or none's): committed[i] < 0 when the
 * group has none. 0, or -1 with err. Blocks up to timeout_ms. rk must be a
 * consumer with a group.id of its own: when the coordinator answers
 * "loading" or "moved", librdkafka 2.0.2 asks the client's own group handle
 * to look it up again, and a client without one (a producer) crashes in
 * its main thread -- as a freshly started broker answers at first. */
int kafka_group_committed(rd_kafka_t *rk, const char *group, const char *topic, int n, int64_t *committed,
                          int timeout_ms, char *err, size_t errlen);

/* The largest message the producer sends (its message.max.bytes). */
size_t kafka_produce_max_bytes(rd_kafka_t *producer);

#endif
