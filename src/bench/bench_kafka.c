/* bench_kafka.c -- see bench_kafka.h. */
#include "bench_kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "kafka.h"

/* A client as dispatchd's are made, with the properties PROPS (key,
 * value, ..., NULL) over them. */
static rd_kafka_t *client(const config_t *cfg, kafka_role_t role, const char *const *props, char *err, size_t errlen)
{
    kafka_env_t kenv;
    if (kafka_env_open(&kenv, cfg, false, err, errlen) != 0)
        return NULL;
    rd_kafka_conf_t *conf = kafka_conf(cfg, &kenv, role, err, errlen);
    kafka_env_close(&kenv);
    if (conf == NULL)
        return NULL;
    for (int i = 0; props[i] != NULL; i += 2)
        if (rd_kafka_conf_set(conf, props[i], props[i + 1], err, errlen) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    rd_kafka_t *rk = rd_kafka_new(role == KAFKA_CONSUMER ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, conf, err, errlen);
    if (rk == NULL)
        rd_kafka_conf_destroy(conf);
    return rk;
}

/* Not rd_kafka_flush(): in this librdkafka it sleeps on for up to a second
 * after the last delivery, which the timing would count. */
static int wait_delivered(rd_kafka_t *rk, double timeout_s)
{
    double until = bench_now_s() + timeout_s;
    while (rd_kafka_outq_len(rk) > 0 && bench_now_s() < until)
        rd_kafka_poll(rk, 5);
    return rd_kafka_outq_len(rk) == 0 ? 0 : -1;
}

static int send_one(rd_kafka_t *rk, const char *topic, const char *key, const char *value, size_t len, char *err,
                    size_t errlen)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE((void *)value, len),
                                                  RD_KAFKA_V_KEY(key, strlen(key)),
                                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_poll(rk, 0);
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(err, errlen, "produce to %s: %s", topic, rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(rk, 50);
    }
}

/* 1,024 different pads of words, cycled, compress like issue text (about
 * 2-3:1 with lz4), not like one letter repeated (a hundredfold). */
static char **make_pads(int bytes, int n)
{
    static const char *const words[] = {"the", "crash", "when", "opening", "settings", "page", "after", "upgrade",
                                        "error", "stack", "trace", "null", "pointer", "in", "module", "expected",
                                        "actual", "steps", "to", "reproduce", "click", "button", "returns", "wrong",
                                        "value", "cache", "login", "timeout"};
    char **pads = malloc(sizeof(*pads) * (size_t)n);
    unsigned seed = 7;
    for (int k = 0; k < n; k++) {
        char *pad = pads[k] = malloc((size_t)bytes + 1);
        memset(pad, 'x', (size_t)bytes);
        pad[bytes] = '\0';
        for (int i = 0; n > 1 && i < bytes;) {
            const char *w = words[rand_r(&seed) % (sizeof(words) / sizeof(words[0]))];
            for (const char *c = w; *c && i < bytes; c++)
                pad[i++] = *c;
            if (i < bytes)
                pad[i++] = (rand_r(&seed) % 5 == 0) ? (char)('0' + rand_r(&seed) % 10) : ' ';
        }
    }
    return pads;
}

int bench_fill(const config_t *cfg, const char *topic, const bench_fill_opts_t *o, double *seconds, char *err,
               size_t errlen)
{
    const char *props[] = {"compression.type", o->compression ? o->compression : "lz4", NULL};
    rd_kafka_t *rk = client(cfg, KAFKA_PRODUCER, props, err, errlen);
    if (rk == NULL)
        return -1;
    int npads = o->text ? 1024 : 1;
    char **pads = make_pads(o->bytes, npads);
    char *value = malloc((size_t)o->bytes + 1024);
    int rc = 0;
    if (o->warm && (send_one(rk, topic, "warm-up", "{}", 2, err, errlen) != 0 || wait_delivered(rk, 30) != 0))
        rc = -1;
    double t0 = bench_now_s();
    for (long i = 0; rc == 0 && i < o->count; i++) {
        long k = i % o->keys + 1;
        int head = snprintf(value, 1024,
                            "{\"event_type\":\"issue\",\"action\":\"opened\",\"timestamp\":\"2024-01-01T00:00:00Z\","
                            "\"repository\":{\"id\":1,\"name\":\"bench\",\"full_name\":\"bench/bench\",\"private\":false},"
                            "\"issue\":{\"id\":%ld,\"number\":%ld,\"title\":\"Bench issue %ld\",\"state\":\"open\","
                            "\"labels\":[],\"user\":{\"login\":\"bench\"},\"created_at\":\"2024-01-01T00:00:00Z\","
                            "\"updated_at\":\"2024-01-01T00:00:00Z\",\"body\":\"",
                            1000000 + k, k, k);
        int body = o->bytes - head - 3 > 0 ? o->bytes - head - 3 : 0;
        memcpy(value + head, pads[i % npads], (size_t)body);
        memcpy(value + head + body, "\"}}", 4);
        char key[64];
        snprintf(key, sizeof(key), "bench/bench:issue:%ld", k);
        rc = send_one(rk, topic, key, value, (size_t)(head + body + 3), err, errlen);
        /* A window: a whole backlog queued at once goes out slower than a
         * replay's bounded sends. */
        while (rc == 0 && o->window > 0 && rd_kafka_outq_len(rk) >= o->window)
            rd_kafka_poll(rk, 1);
    }
    if (rc == 0 && wait_delivered(rk, 120) != 0) {
        snprintf(err, errlen, "produce to %s: not all delivered within 120 s", topic);
        rc = -1;
    }
    *seconds = bench_now_s() - t0;
    rd_kafka_destroy(rk);
    for (int k = 0; k < npads; k++)
        free(pads[k]);
    free(pads);
    free(value);
    return rc;
}

int bench_produce(const config_t *cfg, const char *topic, size_t n, char *const *keys, char *const *values,
                  char *err, size_t errlen)
{
    const char *props[] = {NULL};
    rd_kafka_t *rk = client(cfg, KAFKA_PRODUCER, props, err, errlen);
    if (rk == NULL)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = send_one(rk, topic, keys[i], values[i], strlen(values[i]), err, errlen);
    if (rc == 0 && wait_delivered(rk, 120) != 0) {
        snprintf(err, errlen, "produce to %s: not all delivered within 120 s", topic);
        rc = -1;
    }
    rd_kafka_destroy(rk);
    return rc;
}

int bench_drain(const config_t *cfg, const char *topic, long count, double *msgs_per_s, char *err, size_t errlen)
{
    char group[96];
    snprintf(group, sizeof(group), "%s-drain-%.0f", cfg->group_id, bench_now_s() * 1000);
    /* The bare loop with librdkafka's own prefetch, not dispatchd's bound. */
    const char *props[] = {"group.id", group, "queued.max.messages.kbytes", "65536", "queued.min.messages", "100000",
                           NULL};
    rd_kafka_t *rk = client(cfg, KAFKA_CONSUMER, props, err, errlen);
    if (rk == NULL)
        return -1;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    long got = 0;
    double first = 0, last = 0, deadline = bench_now_s() + 600;
    while (got < count && bench_now_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (!m->err) {
            if (got == 0)
                first = bench_now_s();
            got++;
            last = bench_now_s();
        }
        rd_kafka_message_destroy(m);
    }
    *msgs_per_s = got > 1 ? (double)(got - 1) / (last - first) : 0.0;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (got < count) {
        snprintf(err, errlen, "read %ld of %ld records of %s within 600 s", got, count, topic);
        return -1;
    }
    return 0;
}
