/*
 * bench_load.c -- one trial of `dispatchd bench load` (see bench_load.h).
 *
 * The events carry the correlation id "bench-RUN-I" (RUN random per trial,
 * I the event's index), which dispatchd keeps on the enriched event; the
 * reader assigns every partition of issues.enriched at its end before the
 * first send, matches each enriched event to its index, and records its
 * latency from the event's due time. An event seen twice is a duplicate;
 * one not seen once the drain time has passed is lost.
 */
#include "bench_load.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "cli.h"
#include "event.h"
#include "issue_gen.h"
#include "kafka.h"
#include "schema.h"
#include "strbuf.h"
#include "syncs.h"
#include "uuid.h"

#define POLL_MS 100
#define SAMPLE_EVERY_MS 1000

typedef struct trial {
    const config_t *cfg;
    const load_opts_t *o;
    rd_kafka_t *reader;
    char prefix[32];              /* "bench-RUN-" */
    long long id_base;            /* the trial's GitHub issue ids start here: its own, as the
                                     issues are (an id stored before would be a version skipped) */
    int64_t start_us;             /* event 0's due time (CLOCK_MONOTONIC) */
    uint8_t *seen;
    long sent_ok, send_failed;    /* delivery reports: the producer's thread */
    long received, duplicates;
    int64_t last_us;              /* the last event received */
    latency_hist_t *hist;
    int stop;                     /* atomic: the reader and sampler end */
    /* the sampler's */
    long max_lag, max_inflight;
    double first_processed, last_processed, first_s, last_s;
} trial_t;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until_us(int64_t when)
{
    struct timespec ts = {.tv_sec = when / 1000000, .tv_nsec = (when % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    trial_t *t = opaque;
    if (m->err)
        __atomic_add_fetch(&t->send_failed, 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch(&t->sent_ok, 1, __ATOMIC_RELAXED);
}

/* ---- the reader of issues.enriched ---- */

static void take(trial_t *t, const rd_kafka_message_t *m, int64_t now)
{
    size_t len;
    const char *id = kafka_header_view((void *)m, "correlation_id", &len);
    size_t plen = strlen(t->prefix);
    if (id == NULL || len <= plen || len - plen >= 20 || memcmp(id, t->prefix, plen) != 0)
        return;   /* not this trial's */
    char digits[24];
    memcpy(digits, id + plen, len - plen);
    digits[len - plen] = '\0';
    long i = strtol(digits, NULL, 10);
    if (i < 0 || i >= t->o->events)
        return;
    if (t->seen[i]) {
        t->duplicates++;
        return;
    }
    t->seen[i] = 1;
    __atomic_add_fetch(&t->received, 1, __ATOMIC_RELAXED);   /* the sender watches it */
    t->last_us = now;
    lh_record(t->hist, now - (t->start_us + (int64_t)((double)i * 1e6 / t->o->rate)));
}

static void *reader_main(void *arg)
{
    trial_t *t = arg;
    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->reader, POLL_MS);
        if (m == NULL)
            continue;
        if (!m->err)
            take(t, m, mono_us());
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* Every partition of the enriched topic at its end, before anything is sent. */
static int reader_open(trial_t *t, const kafka_env_t *kenv, char *err, size_t errlen)
{
    const config_t *cfg = t->cfg;
    rd_kafka_conf_t *conf = kafka_conf(cfg, kenv, KAFKA_CONSUMER, err, errlen);
    if (conf == NULL)
        return EXIT_USAGE;
    char group[96], e[256];
    snprintf(group, sizeof(group), "dispatchd-bench-%s%d", t->prefix, (int)getpid());
    rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e));
    t->reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (t->reader == NULL)
        return 1;
    rd_kafka_topic_t *topic = rd_kafka_topic_new(t->reader, cfg->topic_enriched, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = rd_kafka_metadata(t->reader, 0, topic, &md, 10000);
    rd_kafka_topic_destroy(topic);
    if (me || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1) {
        snprintf(err, errlen, "%s: %s (is `dispatchd topics ensure` done?)", cfg->topic_enriched,
                 rd_kafka_err2str(me ? me : md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        if (md)
            rd_kafka_metadata_destroy(md);
        return 1;
    }
    int n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        int64_t lo, hi;
        if ((me = rd_kafka_query_watermark_offsets(t->reader, cfg->topic_enriched, p, &lo, &hi, 10000)) != 0) {
            snprintf(err, errlen, "%s [%d]: %s", cfg->topic_enriched, p, rd_kafka_err2str(me));
            rd_kafka_topic_partition_list_destroy(l);
            return 1;
        }
        rd_kafka_topic_partition_list_add(l, cfg->topic_enriched, p)->offset = hi;
    }
    me = rd_kafka_assign(t->reader, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (me) {
        snprintf(err, errlen, "assigning %s: %s", cfg->topic_enriched, rd_kafka_err2str(me));
        return 1;
    }
    return 0;
}

/* ---- dispatchd's metrics, sampled ---- */

/* A family's sum in the page, 0 when absent. */
static double page_sum(const char *page, const char *name)
{
    double v = bench_metrics_sum(page, name);
    return v < 0 ? 0 : v;
}

static void *sampler_main(void *arg)
{
    trial_t *t = arg;
    CURL *c = curl_easy_init();
    strbuf_t page;
    sb_init(&page);
    curl_easy_setopt(c, CURLOPT_URL, t->o->metrics_url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_to_sb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &page);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 900L);
    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        page.len = 0;
        if (curl_easy_perform(c) == CURLE_OK) {
            long lag = (long)page_sum(page.data, "dispatchd_consumer_lag");
            long inflight = (long)page_sum(page.data, "dispatchd_inflight_records");
            double done = page_sum(page.data, "dispatchd_records_processed_total"), now = (double)mono_us() / 1e6;
            t->max_lag = lag > t->max_lag ? lag : t->max_lag;
            t->max_inflight = inflight > t->max_inflight ? inflight : t->max_inflight;
            if (t->first_s == 0) {
                t->first_s = now;
                t->first_processed = done;
            }
            t->last_s = now;
            t->last_processed = done;
        }
        usleep(SAMPLE_EVERY_MS * 1000);
    }
    sb_free(&page);
    curl_easy_cleanup(c);
    return NULL;
}

/* ---- the events ---- */

/* The next issue object: generated, or the file's next line (cycled). */
static json_t *next_issue(const trial_t *t, FILE *from, long i, uint64_t *rng, char *err, size_t errlen)
{
    if (from == NULL)
        return issue_gen(rng, t->id_base + i, 100000000L + i, t->o->body_bytes);
    char *line = NULL;
    size_t cap = 0;
    for (int pass = 0; pass < 2; pass++) {
        ssize_t n;
        while ((n = getline(&line, &cap, from)) > 0) {
            if (strspn(line, " \t\r\n") == (size_t)n)
                continue;
            json_t *issue = json_loadb(line, (size_t)n, 0, NULL);
            free(line);
            if (issue == NULL) {
                snprintf(err, errlen, "--from: a line is not JSON");
                return NULL;
            }
            /* a number of its own per event, so each is an issue of its own */
            json_object_set_new(issue, "number", json_integer(100000000L + i));
            json_object_set_new(issue, "id", json_integer(t->id_base + i));
            return issue;
        }
        rewind(from);
    }
    free(line);
    snprintf(err, errlen, "--from: no issue in the file");
    return NULL;
}

static int produce_one(rd_kafka_t *rk, trial_t *t, json_t *issue, long i, const char *sync_id, char *err,
                       size_t errlen)
{
    char owner[16], repo[32], key[600], corr[64];
    snprintf(owner, sizeof(owner), "bench");
    /* the trial's own repositories: its issues are new ones, never skipped
     * as versions already stored by an earlier trial */
    snprintf(repo, sizeof(repo), "%.8s-r%ld", t->prefix + 6, i % t->o->repos);
    json_t *ev = issue_event_wrap(issue, owner, repo, "bench", err, errlen);
    if (ev == NULL)
        return -1;
    if (!t->o->sync)
        json_object_del(ev, "sync_source");   /* as a webhook delivers it */
    char *value = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    snprintf(key, sizeof(key), "%s/%s:issue:%lld", owner, repo,
             (long long)json_integer_value(json_object_get(issue, "number")));
    snprintf(corr, sizeof(corr), "%s%ld", t->prefix, i);
    rd_kafka_headers_t *h = rd_kafka_headers_new(3);
    rd_kafka_header_add(h, "correlation_id", -1, corr, -1);
    if (sync_id != NULL) {
        rd_kafka_header_add(h, "sync_id", -1, sync_id, -1);
        rd_kafka_header_add(h, "user_id", -1, "bench", -1);
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(t->cfg->topic_raw), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(err, errlen, "producing: %s", rd_kafka_err2str(e));
            rd_kafka_headers_destroy(h);
            free(value);
            return -1;
        }
        rd_kafka_poll(rk, 1);   /* the local queue is full: the due times keep running */
    }
}

static void show_progress(const trial_t *t, long sent)
{
    fprintf(stderr, "\r  %.0f/s: sent %ld/%ld, received %ld   ", t->o->rate, sent, t->o->events,
            __atomic_load_n(&t->received, __ATOMIC_RELAXED));
}

int load_run(const config_t *cfg, const load_opts_t *o, load_result_t *r)
{
    char err[512];
    memset(r, 0, sizeof(*r));
    lh_init(&r->hist);
    r->rate = o->rate;
    r->events = o->events;
    r->max_lag = r->max_inflight = -1;
    r->processed_per_s = -1;
    trial_t t = {.cfg = cfg, .o = o, .hist = &r->hist};
    char run[37];
    uuid_v4(run);
    snprintf(t.prefix, sizeof(t.prefix), "bench-%.8s-", run);
    t.id_base = 9000000000LL + ((long long)(strtoul(t.prefix + 6, NULL, 16) & 0xFFFFF) << 36);
    t.seen = calloc((size_t)o->events, 1);
    if (t.seen == NULL)
        abort();
    FILE *from = NULL;
    if (o->from != NULL && (from = fopen(o->from, "r")) == NULL) {
        cli_error("bench load: cannot open --from '%s'", o->from);
        free(t.seen);
        return EXIT_USAGE;
    }
    int rc = 1;
    kafka_env_t kenv;
    rd_kafka_t *rk = NULL;
    if (kafka_env_open(&kenv, cfg, false, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        goto out_file;
    }
    if ((rc = reader_open(&t, &kenv, err, sizeof(err))) != 0) {
        cli_error("bench load: %s", err);
        goto out_reader;
    }
    rd_kafka_conf_t *conf = kafka_conf(cfg, &kenv, KAFKA_PRODUCER, err, sizeof(err));
    if (conf == NULL) {
        cli_error("%s", err);
        rc = EXIT_USAGE;
        goto out_reader;
    }
    rd_kafka_conf_set_opaque(conf, &t);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) == NULL) {
        cli_error("kafka: %s", err);
        rc = 1;
        goto out_reader;
    }
    char sync_id[37], *sid = NULL;
    if (o->sync) {
        uuid_v4(sync_id);
        sid = sync_id;
        PGconn *db = pg_connect(cfg->database_url, err, sizeof(err));
        char repo0[32];
        snprintf(repo0, sizeof(repo0), "%.8s-r0", t.prefix + 6);
        sync_new_t fresh = {.user = "bench", .owner = "bench", .repo = repo0, .sync_id = sync_id, .total = o->events};
        if (db == NULL || syncs_register(db, &fresh, err, sizeof(err)) != 0) {
            cli_error("bench load --sync: %s", err);
            if (db)
                PQfinish(db);
            rc = 1;
            goto out_producer;
        }
        PQfinish(db);
    }
    pthread_t reader, sampler;
    pthread_create(&reader, NULL, reader_main, &t);
    if (o->metrics_url != NULL)
        pthread_create(&sampler, NULL, sampler_main, &t);
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    t.start_us = mono_us() + 200000;   /* the reader's first fetch is on its way */
    int64_t shown = 0;
    long i = 0;
    rc = 0;
    for (; i < o->events; i++) {
        int64_t due = t.start_us + (int64_t)((double)i * 1e6 / o->rate);
        if (mono_us() < due)
            sleep_until_us(due);
        json_t *issue = next_issue(&t, from, i, &rng, err, sizeof(err));
        if (issue == NULL || produce_one(rk, &t, issue, i, sid, err, sizeof(err)) != 0) {
            cli_error("bench load: event %ld: %s", i, err);
            json_decref(issue);
            rc = from != NULL ? EXIT_USAGE : 1;
            break;
        }
        json_decref(issue);
        rd_kafka_poll(rk, 0);
        if (o->progress && mono_us() - shown > 500000) {
            show_progress(&t, i + 1);
            shown = mono_us();
        }
    }
    rd_kafka_flush(rk, 30000);
    /* The rest, until every event is back or the drain time passed. */
    int64_t until = mono_us() + (rc == 0 ? (int64_t)o->drain_s * 1000000 : 0);
    while (__atomic_load_n(&t.received, __ATOMIC_RELAXED) < __atomic_load_n(&t.sent_ok, __ATOMIC_RELAXED) &&
           mono_us() < until) {
        usleep(50000);
        if (o->progress && mono_us() - shown > 500000) {
            show_progress(&t, i);
            shown = mono_us();
        }
    }
    usleep(200000);   /* a duplicate close behind the last one is counted too */
    __atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
    pthread_join(reader, NULL);
    if (o->metrics_url != NULL)
        pthread_join(sampler, NULL);
    if (o->progress)
        fputc('\n', stderr);
    r->sent = t.sent_ok;
    r->send_failed = t.send_failed + (o->events - i);
    r->received = t.received;
    r->duplicates = t.duplicates;
    r->lost = r->sent - r->received;
    r->seconds = t.last_us > t.start_us ? (double)(t.last_us - t.start_us) / 1e6 : 0;
    r->throughput = r->seconds > 0 ? (double)r->received / r->seconds : 0;
    if (o->metrics_url != NULL && t.last_s > t.first_s) {
        r->max_lag = t.max_lag;
        r->max_inflight = t.max_inflight;
        r->processed_per_s = (t.last_processed - t.first_processed) / (t.last_s - t.first_s);
    }
out_producer:
    rd_kafka_destroy(rk);
out_reader:
    if (t.reader != NULL) {
        rd_kafka_consumer_close(t.reader);
        rd_kafka_destroy(t.reader);
    }
    kafka_env_close(&kenv);
out_file:
    if (from)
        fclose(from);
    free(t.seen);
    return rc;
}
