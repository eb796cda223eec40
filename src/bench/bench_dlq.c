/*
 * bench_dlq.c -- `dispatchd bench dlq`, on the configuration's broker and
 * database in a scratch namespace:
 *
 * retry-isolation (with --isolation): K (2,000) keys of V (10) versions
 * each, classified by the openai provider. First every key healthy (the
 * baseline), then again with 1 % of the keys failing for the whole run
 * (their records go through the retry path, their later versions follow
 * them). The healthy keys' records per second -- from the database's own
 * times, first stored to last -- in the failing run against the
 * baseline's, two of each alternating on one worker. The failing keys are
 * owned by `badfail<round>`: the configured endpoint must fail (5xx) every
 * request for such a repository -- a stand-in's script (make bench-dlq
 * scripts the project's fake LLM so); no real endpoint does it.
 *
 * dlq-replay: R (100,000) records of ~1.5 KB of words in the DLQ (lz4, as
 * dispatchd writes it); `dispatchd dlq replay` of all of them to the input
 * topic against a bare producer (lz4 too) producing as many of the same
 * size to the same topic, each timed from a ready client to the last
 * acknowledgement, the median of three.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_env.h"
#include "bench_kafka.h"
#include "bench_suites.h"
#include "bench_util.h"
#include "cli.h"
#include "event.h"
#include "schema.h"

static const char *USAGE =
    "usage: dispatchd bench dlq [--replay-records R] [--isolation [--keys K] [--versions V]]\n"
    "R (100,000) records replayed from the DLQ against a bare producer. --isolation: K (2,000) keys\n"
    "of V (10) versions through the openai provider, 1 %% of them failing; the configured endpoint\n"
    "must fail every request for a repository owned by badfail* (a scripted stand-in).\n";

/* One run's events, keys interleaved at random (a fixed seed). */
static int produce_run(bench_env_t *e, const char *run, long keys, long versions, char *err, size_t errlen)
{
    size_t n = (size_t)(keys * versions);
    long *queue = malloc(n * sizeof(*queue));
    char **k = calloc(n, sizeof(char *)), **v = calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        queue[i] = (long)(i / (size_t)versions);
    uint64_t x = 5;
    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = (size_t)(x % (i + 1));
        long t = queue[i];
        queue[i] = queue[j], queue[j] = t;
    }
    long *next = calloc((size_t)keys, sizeof(long));
    long base = 20000000 + 1000000L * (run[strlen(run) - 1] - '0') + (strncmp(run, "base", 4) == 0 ? 0 : 500000);
    for (size_t i = 0; i < n; i++) {
        long key = queue[i], ver = next[key]++;
        char owner[32];
        snprintf(owner, sizeof(owner), "%s%s", key % 100 == 0 ? "bad" : "ok", run);
        char full[48], title[64], body[96], updated[48];
        snprintf(full, sizeof(full), "%s/repo", owner);
        snprintf(title, sizeof(title), "Crash in module %ld v%ld", key, ver);
        snprintf(body, sizeof(body), "Steps to reproduce: open module %ld, press the button. Expected no crash.", key);
        snprintf(updated, sizeof(updated), "2024-01-01T%02d:%02d:00Z", (int)(ver / 60 % 24), (int)(ver % 60));
        json_t *ev = json_pack("{s:s, s:s, s:{s:i, s:s, s:s}, s:{s:I, s:I, s:s, s:s, s:{s:s}, s:s, s:s}}",
                               "event_type", "issue", "action", "edited", "repository", "id", 1, "name", "repo",
                               "full_name", full, "issue", "id", (json_int_t)(base + key), "number",
                               (json_int_t)(key + 1), "title", title, "body", body, "user", "login", "o", "created_at",
                               "2024-01-01T00:00:00Z", "updated_at", updated);
        v[i] = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        if (asprintf(&k[i], "%s/repo:issue:%ld", owner, key + 1) < 0)
            abort();
    }
    int rc = bench_produce(&e->cfg, e->cfg.topic_raw, n, k, v, err, errlen);
    for (size_t i = 0; i < n; i++)
        free(k[i]), free(v[i]);
    free(k), free(v), free(queue), free(next);
    return rc;
}

static long query_long(PGconn *db, const char *sql, const char *arg)
{
    PGresult *r = PQexecParams(db, sql, 1, NULL, &arg, NULL, NULL, 0);
    long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)
                 ? atol(PQgetvalue(r, 0, 0))
                 : -1;
    PQclear(r);
    return v;
}

/* The healthy keys' stored versions per second, first to last (the
 * database's clock), once all of them are in their last version; -1. */
static double healthy_rate(PGconn *db, const char *run, long keys, long versions)
{
    char owner[32], like[32];
    snprintf(owner, sizeof(owner), "ok%s", run);
    snprintf(like, sizeof(like), "%% v%ld", versions - 1);
    long want = keys - keys / 100;
    const char *v[] = {owner, like};
    for (int i = 0; i < 2400; i++) {
        PGresult *r = PQexecParams(db,
                                   "SELECT count(*) FROM dispatchai.issues WHERE repository_owner = $1 AND title LIKE $2",
                                   2, NULL, v, NULL, NULL, 0);
        long have = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : -1;
        PQclear(r);
        if (have == want)
            break;
        usleep(250000);
    }
    long ms = query_long(db,
                         "SELECT (extract(epoch FROM max(e.processed_at) - min(e.processed_at)) * 1000)::bigint "
                         "FROM dispatchai.issues i JOIN dispatchai.enriched_issues e ON e.issue_id = i.id "
                         "WHERE i.repository_owner = $1",
                         owner);
    return ms > 0 ? (double)(want * versions) / ((double)ms / 1000) : -1;
}

static int isolation(bench_env_t *e, bench_ctx_t *ctx, PGconn *db, long keys, long versions, char *err, size_t errlen)
{
    const char *conf[] = {"[openai]", "retry_initial_ms = 50", NULL};
    const char *env[] = {"CLASSIFIER=openai", "CLASSIFY_RATE_LIMIT=100000000", "DAILY_CLASSIFICATION_LIMIT=1000000000",
                         "DISPATCHD_LLM_MAX_RETRIES=2", "DISPATCHD_BREAKER_FAILURES=100000",
                         "DISPATCHD_RETRY_INITIAL_MS=5000", NULL};
    if (bench_env_conf(e, conf) != 0 || bench_worker_start(e, NULL, "iso", env, err, errlen) != 0)
        return -1;
    /* Baseline and failing runs alternate, twice, on one worker: the ratio
     * is of their sums, so a slow moment of the machine weighs on both. */
    double base = 0, fail = 0;
    for (int round = 1; round <= 2; round++)
        for (int f = 0; f < 2; f++) {
            char run[16];
            snprintf(run, sizeof(run), "%s%d", f ? "fail" : "base", round);
            if (produce_run(e, run, keys, versions, err, errlen) != 0)
                return -1;
            double r = healthy_rate(db, run, keys, versions);
            if (r <= 0) {
                snprintf(err, errlen, "run %s: the healthy keys were not all stored within 10 minutes", run);
                return -1;
            }
            *(f ? &fail : &base) += r;
        }
    double entered = bench_metric(e, "dispatchd_retry_records_total{outcome=\"entered\"}");
    double followed = bench_metric(e, "dispatchd_retry_records_total{outcome=\"followed\"}");
    bench_worker_stop(e, false);
    bench_emit(&ctx->rep, "retry-isolation",
               "failing_share=0.01 ok_keys_msgs_per_s=%.0f baseline_msgs_per_s=%.0f ratio=%.3f retry_entered=%.0f "
               "retry_followed=%.0f",
               fail / 2, base / 2, fail / base, entered, followed);
    return 0;
}

static int replay(bench_env_t *e, bench_ctx_t *ctx, PGconn *db, long n, char *err, size_t errlen)
{
    double secs, produce_s[3], replay_s[3];
    bench_fill_opts_t fo = {.count = n, .bytes = 1500, .keys = n, .text = true, .compression = "lz4"};
    if (bench_fill(&e->cfg, e->cfg.topic_dlq, &fo, &secs, err, errlen) != 0)
        return -1;
    fo.warm = true;   /* the peer's producer id and metadata before its clock starts, as a replay's client has them */
    for (int i = 0; i < 3; i++) {
        sleep(1);
        if (bench_fill(&e->cfg, e->cfg.topic_raw, &fo, &produce_s[i], err, errlen) != 0)
            return -1;
        PGresult *r = PQexec(db, "DELETE FROM dispatchai.dlq_replays");   /* each replay sends everything again */
        PQclear(r);
        sleep(1);
        char out[4096];
        const char *args[] = {"dlq", "replay", NULL};
        if (bench_command(e, args, out, sizeof(out)) != 0) {
            snprintf(err, errlen, "dispatchd dlq replay failed");
            return -1;
        }
        json_t *a = json_loads(out, 0, NULL);
        long replayed = (long)json_integer_value(json_object_get(a, "replayed"));
        const char *s0 = json_string_value(json_object_get(a, "started_at"));
        const char *s1 = json_string_value(json_object_get(a, "finished_at"));
        long long t0 = s0 ? iso8601_to_ms(s0) : -1, t1 = s1 ? iso8601_to_ms(s1) : -1;
        json_decref(a);
        if (replayed != n || t0 < 0 || t1 < t0) {
            snprintf(err, errlen, "dlq replay answered %.300s", out);
            return -1;
        }
        replay_s[i] = (double)(t1 - t0) / 1000;
    }
    bench_note(&ctx->rep, "seconds: produce %.2f %.2f %.2f; replay %.2f %.2f %.2f", produce_s[0], produce_s[1],
               produce_s[2], replay_s[0], replay_s[1], replay_s[2]);
    double p = (double)n / bench_median(produce_s, 3), r = (double)n / bench_median(replay_s, 3);
    bench_emit(&ctx->rep, "dlq-replay", "records=%ld replay_per_s=%.0f produce_per_s=%.0f ratio=%.3f", n, r, p, r / p);
    return 0;
}

int bench_dlq(int argc, char **argv, bench_ctx_t *ctx)
{
    if (bench_wants_help(argc, argv, USAGE))
        return 0;
    double keys = 2000, versions = 10, n = 100000;
    bool iso = false;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;   /* the flag has a value */
        if (strcmp(f, "--isolation") == 0) {
            iso = true, takes = false;
        } else if (strcmp(f, "--keys") == 0) {
            if (bench_flag_number("bench dlq", f, v, 100, 1e6, &keys))
                return EXIT_USAGE;
        } else if (strcmp(f, "--versions") == 0) {
            if (bench_flag_number("bench dlq", f, v, 1, 1000, &versions))
                return EXIT_USAGE;
        } else if (strcmp(f, "--replay-records") == 0) {
            if (bench_flag_number("bench dlq", f, v, 1, 1e8, &n))
                return EXIT_USAGE;
        } else {
            cli_error("bench dlq: unknown or incomplete option '%s'\n%s", f, USAGE);
            return EXIT_USAGE;
        }
        i += takes;
    }
    bench_env_t e;
    char err[512];
    bool usage;
    if (bench_env_open(&e, ctx->cfg_file, true, &usage, err, sizeof(err)) != 0) {
        cli_error("bench dlq: %s", err);
        bench_env_close(&e);
        return usage ? EXIT_USAGE : 1;
    }
    PGconn *db = pg_connect(e.db_url, err, sizeof(err));
    int rc = db == NULL || (iso && isolation(&e, ctx, db, (long)keys, (long)versions, err, sizeof(err)) != 0) ||
             replay(&e, ctx, db, (long)n, err, sizeof(err)) != 0;
    if (rc)
        cli_error("bench dlq: %s", err);
    if (db)
        PQfinish(db);
    bench_env_close(&e);
    return rc;
}
