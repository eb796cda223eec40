/*
 * ktool.c -- a small Kafka client for tests (the benchmarks' bare loops are
 * dispatchd's own: src/bench/bench_kafka.c).
 *
 *   ktool produce BOOTSTRAP TOPIC FILE   each line of FILE is one message;
 *                                        "KEY<TAB>VALUE" sets a key
 *   ktool dump BOOTSTRAP TOPIC WAIT_MS [FIELD,...]
 *                                        prints every message from the
 *                                        beginning as a JSON line (key,
 *                                        partition, offset, headers, value
 *                                        length, and the listed top-level
 *                                        fields of a JSON value), stopping
 *                                        after WAIT_MS without news ("*" as
 *                                        a field: the whole value); last
 *                                        line: count
 *   ktool fill BOOTSTRAP TOPIC COUNT BYTES KEYS
 *                                        produces COUNT valid issue events of
 *                                        about BYTES each over KEYS distinct
 *                                        keys (a backlog)
 *   ktool alter BOOTSTRAP TOPIC KEY VALUE
 *                                        sets one topic config (a test topic:
 *                                        AlterConfigs replaces the others)
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* large: a producer of records larger than a pipeline's producer takes
 * (tests); a benchmark's producer keeps librdkafka's batch sizes. */
static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap, const char *group, bool large)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
    if (type == RD_KAFKA_PRODUCER) {
        /* (A message.max.bytes this large also makes batches this large,
         * which slows a producer down severalfold.) */
        if (large)
            rd_kafka_conf_set(c, "message.max.bytes", "100000000", err, sizeof(err));
        rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof(err));
        rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err));
    } else {
        rd_kafka_conf_set(c, "group.id", group, err, sizeof(err));
        rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof(err));
        rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
    }
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "ktool: %s\n", err);
        exit(1);
    }
    return rk;
}

/* Produces one copied message, waiting while the local queue is full. */
static int produce_one(rd_kafka_t *rk, const char *topic, const char *key, const char *value)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE((void *)value, strlen(value)),
            RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_poll(rk, 0);
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "ktool: %s\n", rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(rk, 50);
    }
}

/* A consumer in a group of its own, subscribed to topic from the start. */
static rd_kafka_t *subscribe_fresh(const char *bootstrap, const char *topic)
{
    char group[64];
    snprintf(group, sizeof(group), "ktool-%ld-%d", (long)time(NULL), rand());
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, bootstrap, group, false);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static int produce(const char *bootstrap, const char *topic, const char *file)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (f == NULL) {
        perror(file);
        return 1;
    }
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstrap, NULL, true);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long sent = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        char *value = line, *key = NULL;
        char *tab = strchr(line, '\t');
        if (tab) {
            *tab = '\0';
            key = line;
            value = tab + 1;
        }
        if (produce_one(rk, topic, key, value) != 0)
            return 1;
        sent++;
    }
    int left = rd_kafka_flush(rk, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : 1;
    printf("{\"produced\":%ld}\n", sent);
    rd_kafka_destroy(rk);
    free(line);
    if (f != stdin)
        fclose(f);
    return left;
}

static int dump(const char *bootstrap, const char *topic, int wait_ms, const char *fields)
{
    rd_kafka_t *rk = subscribe_fresh(bootstrap, topic);
    long count = 0;
    struct timespec last;
    clock_gettime(CLOCK_MONOTONIC, &last);
    bool assigned = false;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!assigned) {
            /* The quiet period starts once the group gave us partitions. */
            rd_kafka_topic_partition_list_t *a = NULL;
            if (rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a->cnt > 0) {
                assigned = true;
                last = now;
            }
            if (a)
                rd_kafka_topic_partition_list_destroy(a);
        }
        if (m == NULL || m->err) {
            if (m)
                rd_kafka_message_destroy(m);
            long idle = (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000;
            if (assigned && idle > wait_ms)
                break;
            if (!assigned && idle > 60000) {
                fprintf(stderr, "ktool: no partitions assigned within 60 s\n");
                return 1;
            }
            continue;
        }
        last = now;
        json_t *o = json_object();
        json_object_set_new(o, "key", m->key ? json_stringn(m->key, m->key_len) : json_null());
        json_object_set_new(o, "partition", json_integer(m->partition));
        json_object_set_new(o, "offset", json_integer(m->offset));
        json_object_set_new(o, "value_len", json_integer((json_int_t)m->len));
        json_t *h = json_object();
        rd_kafka_headers_t *hdrs;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char *name;
            const void *val;
            size_t size;
            for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
                 i++)
                json_object_set_new(h, name, val ? json_stringn(val, size) : json_null());
        }
        json_object_set_new(o, "headers", h);
        if (fields != NULL) {
            json_t *v = json_loadb(m->payload, m->len, 0, NULL);
            char list[256];
            snprintf(list, sizeof(list), "%s", fields);
            for (char *save = NULL, *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                json_t *fv = strcmp(f, "*") == 0 ? v : json_object_get(v, f);
                json_object_set(o, strcmp(f, "*") == 0 ? "value" : f, fv ? fv : json_null());
            }
            json_decref(v);
        }
        char *s = json_dumps(o, JSON_COMPACT);
        puts(s);
        free(s);
        json_decref(o);
        count++;
        rd_kafka_message_destroy(m);
    }
    printf("{\"count\":%ld}\n", count);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits until the producer has every message delivered. Not
 * rd_kafka_flush(): in this librdkafka it sleeps on for up to a second
 * after the last delivery, which a benchmark's timing would count. */
static int drain_producer(rd_kafka_t *rk, double timeout_s)
{
    double until = mono_s() + timeout_s;
    while (rd_kafka_outq_len(rk) > 0 && mono_s() < until)
        rd_kafka_poll(rk, 5);
    return rd_kafka_outq_len(rk) == 0 ? 0 : -1;
}

static int fill(const char *bootstrap, const char *topic, long count, int bytes, long keys)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstrap, NULL, false);
    char *pad = malloc((size_t)bytes + 1), *value = malloc((size_t)bytes + 1024);
    memset(pad, 'x', (size_t)bytes);
    for (long i = 0; i < count; i++) {
        long k = i % keys + 1;
        int head = snprintf(value, 1024,
                            "{\"event_type\":\"issue\",\"action\":\"opened\",\"timestamp\":\"2024-01-01T00:00:00Z\","
                            "\"repository\":{\"id\":1,\"name\":\"bench\",\"full_name\":\"bench/bench\",\"private\":false},"
                            "\"issue\":{\"id\":%ld,\"number\":%ld,\"title\":\"Bench issue %ld\",\"state\":\"open\","
                            "\"labels\":[],\"user\":{\"login\":\"bench\"},\"created_at\":\"2024-01-01T00:00:00Z\","
                            "\"updated_at\":\"2024-01-01T00:00:00Z\",\"body\":\"",
                            1000000 + k, k, k);
        int body = bytes - head - 3 > 0 ? bytes - head - 3 : 0;
        memcpy(value + head, pad, (size_t)body);
        memcpy(value + head + body, "\"}}", 4);
        char key[64];
        snprintf(key, sizeof(key), "bench/bench:issue:%ld", k);
        if (produce_one(rk, topic, key, value) != 0)
            return 1;
    }
    int rc = drain_producer(rk, 120) == 0 ? 0 : 1;
    rd_kafka_destroy(rk);
    free(pad);
    free(value);
    return rc;
}

static int alter(const char *bootstrap, const char *topic, const char *key, const char *value)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstrap, NULL, false);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_ConfigResource_set_config(res, key, value);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AlterConfigs(rk, &res, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 1;
    const rd_kafka_AlterConfigs_result_t *r = ev ? rd_kafka_event_AlterConfigs_result(ev) : NULL;
    if (r != NULL && !rd_kafka_event_error(ev)) {
        size_t n;
        const rd_kafka_ConfigResource_t **rs = rd_kafka_AlterConfigs_result_resources(r, &n);
        rc = n == 1 && rd_kafka_ConfigResource_error(rs[0]) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : 1;
        if (rc != 0 && n == 1)
            fprintf(stderr, "ktool: %s\n", rd_kafka_ConfigResource_error_string(rs[0]));
    } else {
        fprintf(stderr, "ktool: AlterConfigs: %s\n", ev ? rd_kafka_event_error_string(ev) : "timeout");
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv)
{
    srand((unsigned)time(NULL) ^ (unsigned)clock());
    if (argc == 5 && strcmp(argv[1], "produce") == 0)
        return produce(argv[2], argv[3], argv[4]);
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "dump") == 0)
        return dump(argv[2], argv[3], atoi(argv[4]), argc == 6 ? argv[5] : NULL);
    if (argc == 7 && strcmp(argv[1], "fill") == 0)
        return fill(argv[2], argv[3], atol(argv[4]), atoi(argv[5]), atol(argv[6]));
    if (argc == 6 && strcmp(argv[1], "alter") == 0)
        return alter(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: ktool produce BOOTSTRAP TOPIC FILE | dump BOOTSTRAP TOPIC WAIT_MS |\n"
                    "       fill BOOTSTRAP TOPIC COUNT BYTES KEYS | alter BOOTSTRAP TOPIC KEY VALUE\n");
    return 2;
}
