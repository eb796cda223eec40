/*
 * ktool.c -- a small Kafka client for tests and benchmarks.
 *
 *   ktool produce BOOTSTRAP TOPIC FILE   each line of FILE is one message;
 *                                        "KEY<TAB>VALUE" sets a key
 *   ktool dump BOOTSTRAP TOPIC WAIT_MS [FIELD,...]
 *                                        prints every message from the
 *                                        beginning as a JSON line (key,
 *                                        partition, offset, headers, value
 *                                        length, and the listed top-level
 *                                        fields of a JSON value), stopping
 *                                        after WAIT_MS without news; last
 *                                        line: count
 *   ktool fill BOOTSTRAP TOPIC COUNT BYTES KEYS
 *                                        produces COUNT valid issue events of
 *                                        about BYTES each over KEYS distinct
 *                                        keys (benchmark volume)
 *   ktool alter BOOTSTRAP TOPIC KEY VALUE
 *                                        sets one topic config (a test topic:
 *                                        AlterConfigs replaces the others)
 *   ktool copy BOOTSTRAP FROM TO COUNT   the bare re-publish: COUNT records of
 *                                        FROM (every partition assigned from
 *                                        its start) produced to TO in place as
 *                                        they are read; prints seconds
 *   KTOOL_COMPRESSION=lz4 (e.g.) sets the producers' compression.type;
 *   for fill, KTOOL_FILL_TEXT=1 writes words (compressing like issue text),
 *   KTOOL_WINDOW=N keeps at most N messages waiting, KTOOL_WARM=1 times
 *   only after the client is ready (one message sent first).
 *   ktool drain BOOTSTRAP TOPIC COUNT    the bare librdkafka consume loop:
 *                                        reads COUNT messages in a new group,
 *                                        prints msgs_per_s from the first
 *                                        message to the last
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
        /* A benchmark's peer set up like the producer it is compared with
         * (dispatchd's compresses with lz4). */
        const char *props = getenv("KTOOL_PRODUCER_PROPS");   /* k=v,k=v: an experiment's settings */
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", props ? props : "");
        for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            if (eq != NULL) {
                *eq = '\0';
                rd_kafka_conf_set(c, kv, eq + 1, err, sizeof(err));
            }
        }
        const char *comp = getenv("KTOOL_COMPRESSION");   /* and KTOOL_FILL_TEXT: fill writes words */
        if (comp != NULL && rd_kafka_conf_set(c, "compression.type", comp, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "ktool: KTOOL_COMPRESSION: %s\n", err);
            exit(2);
        }
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
                json_t *fv = json_object_get(v, f);
                json_object_set(o, f, fv ? fv : json_null());
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
    /* With KTOOL_FILL_TEXT, 1,024 different bodies of words, cycled:
     * compresses like issue text (about 2-3:1 with lz4), not like one
     * letter repeated (a hundredfold). Made before the clock starts. */
    int npads = getenv("KTOOL_FILL_TEXT") != NULL ? 1024 : 1;
    char **pads = malloc(sizeof(*pads) * (size_t)npads);
    static const char *const words[] = {"the", "crash", "when", "opening", "settings", "page", "after", "upgrade",
                                        "error", "stack", "trace", "null", "pointer", "in", "module", "expected",
                                        "actual", "steps", "to", "reproduce", "click", "button", "returns", "wrong",
                                        "value", "cache", "login", "timeout"};
    unsigned seed = 7;
    for (int k = 0; k < npads; k++) {
        char *pad = pads[k] = malloc((size_t)bytes + 1);
        memset(pad, 'x', (size_t)bytes);
        pad[bytes] = '\0';
        for (int i = 0; npads > 1 && i < bytes;) {
            const char *w = words[rand_r(&seed) % (sizeof(words) / sizeof(words[0]))];
            for (const char *c = w; *c && i < bytes; c++)
                pad[i++] = *c;
            if (i < bytes)
                pad[i++] = (rand_r(&seed) % 5 == 0) ? (char)('0' + rand_r(&seed) % 10) : ' ';
        }
    }
    char *value = malloc((size_t)bytes + 1024);
    const char *w = getenv("KTOOL_WINDOW");
    int window = w ? atoi(w) : 0;
    if (getenv("KTOOL_WARM") != NULL) {
        /* The client ready before the clock starts (its producer id and
         * the topic's metadata: a first send can wait a second for them),
         * as a long-running producer is. */
        if (produce_one(rk, topic, "warm-up", "{}") != 0 || drain_producer(rk, 30) != 0)
            return 1;
    }
    double t0 = mono_s();
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
        memcpy(value + head, pads[i % npads], (size_t)body);
        memcpy(value + head + body, "\"}}", 4);
        char key[64];
        snprintf(key, sizeof(key), "bench/bench:issue:%ld", k);
        if (produce_one(rk, topic, key, value) != 0)
            return 1;
        /* KTOOL_WINDOW=N: at most N messages waiting in the producer, as
         * a replay sends (a whole backlog queued at once goes out slower). */
        while (window > 0 && rd_kafka_outq_len(rk) >= window)
            rd_kafka_poll(rk, 1);
    }
    int rc = drain_producer(rk, 120) == 0 ? 0 : 1;
    printf("{\"produced\":%ld,\"seconds\":%.2f}\n", count, mono_s() - t0);
    rd_kafka_destroy(rk);
    for (int k = 0; k < npads; k++)
        free(pads[k]);
    free(pads);
    free(value);
    return rc;
}

static int drain(const char *bootstrap, const char *topic, long count)
{
    rd_kafka_t *rk = subscribe_fresh(bootstrap, topic);
    long got = 0;
    double first = 0, last = 0, deadline = mono_s() + 600;
    while (got < count && mono_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (!m->err) {
            if (got == 0)
                first = mono_s();
            got++;
            last = mono_s();
        }
        rd_kafka_message_destroy(m);
    }
    printf("{\"consumed\":%ld,\"msgs_per_s\":%.0f}\n", got, got > 1 ? (double)(got - 1) / (last - first) : 0.0);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got == count ? 0 : 1;
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

/* The bare copy: every record of FROM (read from the start) produced to
 * TO as it is read, in place (no copy), each read message kept until its
 * delivery report. The floor for anything that re-publishes a topic. */
static void copied(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->_private != NULL)
        rd_kafka_message_destroy(m->_private);
}

static int copy(const char *bootstrap, const char *from, const char *to, long count)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
    rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof(err));
    rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err));
    const char *comp = getenv("KTOOL_COMPRESSION");
    if (comp != NULL)
        rd_kafka_conf_set(c, "compression.type", comp, err, sizeof(err));
    rd_kafka_conf_set_dr_msg_cb(c, copied);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    /* Every partition assigned from its start: no group to join, as a
     * replay reads. */
    char group[64];
    snprintf(group, sizeof(group), "ktool-copy-%ld-%d", (long)time(NULL), rand());
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, bootstrap, group, false);
    rd_kafka_poll_set_consumer(rk);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, from, NULL);
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1) {
        fprintf(stderr, "ktool: no metadata for %s\n", from);
        return 1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, from, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    double t0 = mono_s();
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    long got = 0;
    while (got < count && mono_s() - t0 < 600) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        rd_kafka_poll(p, 0);
        if (m == NULL)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(to), RD_KAFKA_V_VALUE(m->payload, m->len),
                                      RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_message_destroy(m);
        got++;
    }
    drain_producer(p, 120);
    printf("{\"copied\":%ld,\"seconds\":%.3f}\n", got, mono_s() - t0);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    rd_kafka_destroy(p);
    return got == count ? 0 : 1;
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
    if (argc == 5 && strcmp(argv[1], "drain") == 0)
        return drain(argv[2], argv[3], atol(argv[4]));
    if (argc == 6 && strcmp(argv[1], "copy") == 0)
        return copy(argv[2], argv[3], argv[4], atol(argv[5]));
    if (argc == 6 && strcmp(argv[1], "alter") == 0)
        return alter(argv[2], argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: ktool produce BOOTSTRAP TOPIC FILE | dump BOOTSTRAP TOPIC WAIT_MS |\n"
                    "       fill BOOTSTRAP TOPIC COUNT BYTES KEYS | drain BOOTSTRAP TOPIC COUNT |\n"
                    "       alter BOOTSTRAP TOPIC KEY VALUE | copy BOOTSTRAP FROM TO COUNT\n");
    return 2;
}
