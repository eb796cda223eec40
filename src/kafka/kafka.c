#include "kafka.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define DAY_MS (24LL * 3600 * 1000)

int kafka_topic_specs(const config_t *cfg, topic_spec_t *s)
{
    s[0] = (topic_spec_t){cfg->topic_raw, cfg->topic_partitions, 7 * DAY_MS, "delete"};
    s[1] = (topic_spec_t){cfg->topic_enriched, cfg->topic_partitions, 30 * DAY_MS, "delete"};
    s[2] = (topic_spec_t){cfg->topic_dlq, cfg->topic_partitions, 30 * DAY_MS, "delete"};
    s[3] = (topic_spec_t){cfg->topic_control, 1, 1 * DAY_MS, "delete"};
    s[4] = (topic_spec_t){cfg->topic_retry, cfg->topic_partitions, 7 * DAY_MS, "delete"};
    return KAFKA_TOPICS;
}

static int mkdirs(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int start_mock(kafka_env_t *env, const config_t *cfg, char *err, size_t errlen)
{
    char e[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", e, sizeof(e));
    env->mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (env->mock_owner == NULL) {
        snprintf(err, errlen, "embedded kafka: %s", e);
        return -1;
    }
    env->mock = rd_kafka_mock_cluster_new(env->mock_owner, 1);
    if (env->mock == NULL) {
        snprintf(err, errlen, "embedded kafka: cannot start the mock cluster");
        return -1;
    }
    topic_spec_t specs[KAFKA_TOPICS];
    int n = kafka_topic_specs(cfg, specs);
    for (int i = 0; i < n; i++)
        rd_kafka_mock_topic_create(env->mock, specs[i].name, specs[i].partitions, 1);
    snprintf(env->bootstrap, sizeof(env->bootstrap), "%s", rd_kafka_mock_cluster_bootstraps(env->mock));

    if (mkdirs(cfg->state_dir) != 0) {
        snprintf(err, errlen, "state_dir: cannot create '%s': %s", cfg->state_dir, strerror(errno));
        return -1;
    }
    snprintf(env->state_file, sizeof(env->state_file), "%s/embedded.bootstrap", cfg->state_dir);
    FILE *f = fopen(env->state_file, "w");
    if (f == NULL) {
        snprintf(err, errlen, "state_dir: cannot write '%s': %s", env->state_file, strerror(errno));
        return -1;
    }
    fprintf(f, "%s\n", env->bootstrap);
    fclose(f);
    log_info("kafka", "embedded mock cluster on %s (at most ~100k messages per partition: not for benchmarks)",
             env->bootstrap);
    return 0;
}

int kafka_env_open(kafka_env_t *env, const config_t *cfg, bool host_mock, char *err, size_t errlen)
{
    memset(env, 0, sizeof(*env));
    if (strcmp(cfg->kafka_bootstrap, "embedded") != 0) {
        snprintf(env->bootstrap, sizeof(env->bootstrap), "%s", cfg->kafka_bootstrap);
        return 0;
    }
    env->embedded = true;
    if (host_mock)
        return start_mock(env, cfg, err, errlen);

    char path[512];
    snprintf(path, sizeof(path), "%s/embedded.bootstrap", cfg->state_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL || fgets(env->bootstrap, sizeof(env->bootstrap), f) == NULL) {
        if (f)
            fclose(f);
        snprintf(err, errlen,
                 "KAFKA_BOOTSTRAP_SERVERS=embedded: no running `dispatchd run` published its embedded broker "
                 "in %s; start it first or point KAFKA_BOOTSTRAP_SERVERS at a real cluster", path);
        return -1;
    }
    fclose(f);
    env->bootstrap[strcspn(env->bootstrap, "\r\n")] = '\0';
    return 0;
}

void kafka_env_close(kafka_env_t *env)
{
    if (env->state_file[0])
        unlink(env->state_file);
    if (env->mock)
        rd_kafka_mock_cluster_destroy(env->mock);
    if (env->mock_owner)
        rd_kafka_destroy(env->mock_owner);
    memset(env, 0, sizeof(*env));
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char e[256];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka.%s: %s", k, e);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *kafka_conf(const config_t *cfg, const kafka_env_t *env, kafka_role_t role,
                            char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = set(conf, "bootstrap.servers", env->bootstrap, err, errlen);
    bad |= set(conf, "client.id", "dispatchd", err, errlen);
    bad |= set(conf, "log_level", "4", err, errlen);
    if (role == KAFKA_PRODUCER) {
        bad |= set(conf, "enable.idempotence", "true", err, errlen);
        bad |= set(conf, "acks", "all", err, errlen);
        bad |= set(conf, "linger.ms", "5", err, errlen);
        bad |= set(conf, "compression.type", "lz4", err, errlen);
    } else if (role == KAFKA_CONSUMER) {
        bad |= set(conf, "group.id", cfg->group_id, err, errlen);
        /* Commits are explicit: each carries its partition's offset map. */
        bad |= set(conf, "enable.auto.commit", "false", err, errlen);
        bad |= set(conf, "auto.offset.reset", "earliest", err, errlen);
        bad |= set(conf, "partition.assignment.strategy", "cooperative-sticky", err, errlen);
        /* A member that died leaves the group after 10 s, not 45; a process
         * with a group.instance.id takes its old place without waiting. */
        bad |= set(conf, "session.timeout.ms", "10000", err, errlen);
        bad |= set(conf, "heartbeat.interval.ms", "2000", err, errlen);
        if (cfg->instance_id != NULL && cfg->instance_id[0] != '\0')
            bad |= set(conf, "group.instance.id", cfg->instance_id, err, errlen);
        /* The backlog stays in Kafka: what librdkafka prefetches per
         * partition is what memory holds beyond the in-flight window. */
        bad |= set(conf, "queued.max.messages.kbytes", "16384", err, errlen);
        bad |= set(conf, "queued.min.messages", "20000", err, errlen);
    }
    if (bad)
        goto fail;
    for (size_t i = 0; i < cfg->n_kafka_props; i++) {
        const kv_t *p = &cfg->kafka_props[i];
        if (strcmp(p->key, "bootstrap.servers") == 0)
            continue;
        /* The section serves producers and consumers alike: librdkafka
         * accepts a key meant for the other role and ignores it. */
        char e[256];
        rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, p->key, p->value, e, sizeof(e));
        if (r == RD_KAFKA_CONF_UNKNOWN) {
            snprintf(err, errlen, "kafka.%s: unknown librdkafka property", p->key);
            goto fail;
        }
        if (r != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "kafka.%s: %s", p->key, e);
            goto fail;
        }
    }
    if (role == KAFKA_CONSUMER) {
        /* Offsets are committed only after a record's effects are durable,
         * by dispatchd itself: a user's auto-commit settings are overridden. */
        char v[16];
        size_t vl = sizeof(v);
        if (rd_kafka_conf_get(conf, "enable.auto.offset.store", v, &vl) == RD_KAFKA_CONF_OK &&
            strcmp(v, "true") == 0 && config_kafka_prop(cfg, "enable.auto.offset.store") != NULL) {
            snprintf(err, errlen, "kafka.enable.auto.offset.store: must stay false; dispatchd stores offsets "
                                  "after each record's effects are durable");
            goto fail;
        }
        if (set(conf, "enable.auto.offset.store", "false", err, errlen) ||
            set(conf, "enable.auto.commit", "false", err, errlen))
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

const char *kafka_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t buflen)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *val;
    size_t size;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (rd_kafka_header_get_last(hdrs, name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR || val == NULL)
        return NULL;
    if (size >= buflen)
        size = buflen - 1;
    memcpy(buf, val, size);
    buf[size] = '\0';
    return buf;
}

const char *kafka_header_view(void *msg, const char *name, size_t *len)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *val;
    if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, name, &val, len) != RD_KAFKA_RESP_ERR_NO_ERROR || val == NULL)
        return NULL;
    return val;
}

void kafka_header_put(void *headers, const char *name, const char *value)
{
    rd_kafka_header_add(headers, name, -1, value, -1);
}

bool kafka_produce_error_size(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || e == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
           e == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE;
}

bool kafka_produce_error_permanent(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
        return true;
    default:
        return kafka_produce_error_size(e);
    }
}

size_t kafka_produce_max_bytes(rd_kafka_t *producer)
{
    char v[32];
    size_t vl = sizeof(v);
    if (rd_kafka_conf_get(rd_kafka_conf(producer), "message.max.bytes", v, &vl) == RD_KAFKA_CONF_OK)
        return (size_t)strtoull(v, NULL, 10);
    return 1000000;   /* librdkafka's default */
}

static int compare_configs(const rd_kafka_ConfigResource_t *res, const topic_spec_t *spec)
{
    int problems = 0;
    const char *name = rd_kafka_ConfigResource_name(res);
    char want_ret[32];
    snprintf(want_ret, sizeof(want_ret), "%lld", spec->retention_ms);
    size_t ne;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &ne);
    for (size_t e = 0; e < ne; e++) {
        const char *k = rd_kafka_ConfigEntry_name(entries[e]);
        const char *v = rd_kafka_ConfigEntry_value(entries[e]);
        const char *want = strcmp(k, "retention.ms") == 0     ? want_ret
                           : strcmp(k, "cleanup.policy") == 0 ? spec->cleanup_policy
                                                              : NULL;
        if (want != NULL && (v == NULL || strcmp(v, want) != 0)) {
            printf("topics: %s has %s=%s, configured %s (left unchanged)\n", name, k, v ? v : "(none)", want);
            problems++;
        }
    }
    return problems;
}

/* Compares retention.ms and cleanup.policy of existing topics with their
 * specification; prints each difference and returns how many there were. */
static int report_config_mismatches(rd_kafka_t *rk, const topic_spec_t *specs, const bool *exists, int n)
{
    rd_kafka_ConfigResource_t *res[KAFKA_TOPICS];
    int nres = 0;
    for (int i = 0; i < n; i++) {
        bool dup = false;   /* one topic may serve two roles: ask once */
        for (int j = 0; j < i; j++)
            dup |= exists[j] && strcmp(specs[j].name, specs[i].name) == 0;
        if (exists[i] && !dup)
            res[nres++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, specs[i].name);
    }
    if (nres == 0)
        return 0;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, res, (size_t)nres, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    const rd_kafka_DescribeConfigs_result_t *result = ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    int problems = 0;
    if (result == NULL || rd_kafka_event_error(ev)) {
        printf("topics: could not read topic configurations (%s)\n", ev ? rd_kafka_event_error_string(ev) : "timeout");
        problems++;
    } else {
        size_t cnt;
        const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(result, &cnt);
        for (size_t r = 0; r < cnt; r++) {
            const char *name = rd_kafka_ConfigResource_name(rs[r]);
            for (int i = 0; i < n; i++) {
                if (strcmp(specs[i].name, name) == 0)
                    problems += compare_configs(rs[r], &specs[i]);
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    for (int i = 0; i < nres; i++)
        rd_kafka_ConfigResource_destroy(res[i]);
    return problems;
}
int kafka_topics_ensure(const config_t *cfg, const kafka_env_t *env, bool verbose, char *err, size_t errlen)
{
    topic_spec_t specs[KAFKA_TOPICS];
    int n = kafka_topic_specs(cfg, specs);
    if (env->mock != NULL) {
        if (verbose)
            for (int i = 0; i < n; i++)
                printf("topics: %s ok (embedded, %d partitions)\n", specs[i].name, specs[i].partitions);
        return 0;
    }
    rd_kafka_conf_t *conf = kafka_conf(cfg, env, KAFKA_ADMIN, err, errlen);
    if (conf == NULL)
        return -1;
    char e[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (rk == NULL) {
        snprintf(err, errlen, "kafka: %s", e);
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (me != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka: cannot read metadata from %s: %s", env->bootstrap, rd_kafka_err2str(me));
        rd_kafka_destroy(rk);
        return -1;
    }
    int problems = 0;
    rd_kafka_NewTopic_t *create[KAFKA_TOPICS];
    int ncreate = 0;
    bool exists[KAFKA_TOPICS] = {false};
    for (int i = 0; i < n; i++) {
        int found = -1;
        for (int t = 0; t < md->topic_cnt; t++)
            if (strcmp(md->topics[t].topic, specs[i].name) == 0)
                found = md->topics[t].partition_cnt;
        if (found < 0) {
            rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(specs[i].name, specs[i].partitions, 1, e, sizeof(e));
            char ret[32];
            snprintf(ret, sizeof(ret), "%lld", specs[i].retention_ms);
            rd_kafka_NewTopic_set_config(nt, "retention.ms", ret);
            rd_kafka_NewTopic_set_config(nt, "cleanup.policy", specs[i].cleanup_policy);
            create[ncreate++] = nt;
        } else {
            exists[i] = true;
            if (found != specs[i].partitions) {
                printf("topics: %s has %d partitions, configured %d (left unchanged)\n", specs[i].name, found,
                       specs[i].partitions);
                problems++;
            } else if (verbose) {
                printf("topics: %s ok (%d partitions)\n", specs[i].name, found);
            }
        }
    }
    rd_kafka_metadata_destroy(md);
    problems += report_config_mismatches(rk, specs, exists, n);
    if (ncreate > 0) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, create, (size_t)ncreate, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
        const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
        if (res == NULL) {
            snprintf(err, errlen, "kafka: CreateTopics got no answer");
            problems = -1;
        } else {
            size_t cnt;
            const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
            for (size_t i = 0; i < cnt; i++) {
                rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
                if (te == RD_KAFKA_RESP_ERR_NO_ERROR || te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                    printf("topics: %s created\n", rd_kafka_topic_result_name(tr[i]));
                } else {
                    snprintf(err, errlen, "kafka: creating %s: %s", rd_kafka_topic_result_name(tr[i]),
                             rd_kafka_err2str(te));
                    problems = -1;
                }
            }
        }
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        for (int i = 0; i < ncreate; i++)
            rd_kafka_NewTopic_destroy(create[i]);
    }
    rd_kafka_destroy(rk);
    return problems;
}

int kafka_group_committed(rd_kafka_t *rk, const char *group, const char *topic, int n, int64_t *committed,
                          int timeout_ms, char *err, size_t errlen)
{
    if (rd_kafka_type(rk) != RD_KAFKA_CONSUMER) {
        snprintf(err, errlen, "kafka_group_committed: needs a consumer client (with a group.id)");
        return -1;
    }
    rd_kafka_topic_partition_list_t *want = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
    for (int32_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(want, topic, i);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, want);
    rd_kafka_queue_t *rq = rd_kafka_queue_new(rk);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, NULL, rq);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(rq, timeout_ms);
    const rd_kafka_ListConsumerGroupOffsets_result_t *res =
        ev ? rd_kafka_event_ListConsumerGroupOffsets_result(ev) : NULL;
    const rd_kafka_topic_partition_list_t *got = NULL;
    if (res != NULL && !rd_kafka_event_error(ev)) {
        size_t cnt;
        const rd_kafka_group_result_t **groups = rd_kafka_ListConsumerGroupOffsets_result_groups(res, &cnt);
        if (cnt == 1 && rd_kafka_group_result_error(groups[0]) == NULL)
            got = rd_kafka_group_result_partitions(groups[0]);
    }
    int rc = 0;
    if (got == NULL) {
        snprintf(err, errlen, "%s", ev ? rd_kafka_event_error_string(ev) : "no answer from the group coordinator");
        rc = -1;
    } else {
        for (int32_t i = 0; i < n; i++) {
            const rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(got, topic, i);
            committed[i] = c != NULL && c->err == RD_KAFKA_RESP_ERR_NO_ERROR && c->offset >= 0 ? c->offset : -1;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(rq);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_topic_partition_list_destroy(want);
    return rc;
}
