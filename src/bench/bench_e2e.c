/*
 * bench_e2e.c -- `dispatchd bench e2e`: the whole pipeline's throughput
 * and what each event costs, on the configuration's broker and database
 * in a scratch namespace (bench_env.h).
 *
 * N issue events with real texts (bench_texts.h) are put on issues.raw
 * first; then a worker (rules classifier, so the model's own cost stays
 * out) consumes, stores and publishes them all. The rate runs from its
 * first record done to its last; the CPU of the worker, of PostgreSQL (the
 * postmaster and every backend) and of the broker is read from /proc
 * before the worker starts and once everything is done, and the WAL from
 * pg_current_wal_lsn(), so each is given per event. Then the same rows go
 * by COPY into the same tables (bench_copy.h): the ceiling the ratio is
 * taken against.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_copy.h"
#include "bench_cpu.h"
#include "bench_env.h"
#include "bench_kafka.h"
#include "bench_suites.h"
#include "bench_texts.h"
#include "bench_util.h"
#include "cli.h"
#include "schema.h"

static const char *USAGE =
    "usage: dispatchd bench e2e [--events N] [--texts FILE.csv] [--worker PROGRAM]\n"
    "N (50,000) issue events put on issues.raw, then consumed, classified (rules), stored and\n"
    "published by one worker; then the same rows by COPY. Titles and bodies from FILE (the\n"
    "NLBSE'24 layout; cycled, bodies cut at 8,000 bytes), or generated at real issues' lengths.\n"
    "PROGRAM: another dispatchd build to run as the worker (it migrates the scratch database\n"
    "itself), for before/after figures.\n";

typedef struct cpu_snap {
    double pg, broker, wal;
} cpu_snap_t;

static void snap(PGconn *c, pid_t postmaster, pid_t broker, cpu_snap_t *s)
{
    s->pg = bench_cpu_tree_s(postmaster);
    s->broker = broker > 0 ? bench_cpu_s(broker, 0) : 0;
    s->wal = bench_pg_wal_bytes(c);
}

/* The scratch schema made again by another build, as it would make it. */
static int migrate_with(bench_env_t *e, PGconn *c, const char *program)
{
    PGresult *r = PQexec(c, "DROP SCHEMA dispatchai CASCADE");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    char out[4096];
    char *const argv[] = {(char *)program, "migrate", "--config", e->conf_path, NULL};
    if (!ok || bench_capture(argv, out, sizeof(out), NULL) != 0) {
        cli_error("bench e2e: %s migrate failed", program);
        return -1;
    }
    return 0;
}

int bench_e2e(int argc, char **argv, bench_ctx_t *ctx)
{
    if (bench_wants_help(argc, argv, USAGE))
        return 0;
    double events = 50000;
    const char *texts = NULL, *worker = NULL;
    for (int i = 1; i < argc; i += 2) {   /* every flag takes a value */
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "--events") == 0) {
            if (bench_flag_number("bench e2e", f, v, 1, 1e7, &events))
                return EXIT_USAGE;
        } else if (strcmp(f, "--texts") == 0 && v != NULL) {
            texts = v;
        } else if (strcmp(f, "--worker") == 0 && v != NULL) {
            worker = v;
        } else {
            cli_error("bench e2e: unknown or incomplete option '%s'\n%s", f, USAGE);
            return EXIT_USAGE;
        }
    }
    bench_texts_t t;
    if (bench_texts_make(&t, (size_t)events, texts, 800000000LL) != 0) {
        bench_texts_free(&t);
        return EXIT_USAGE;
    }
    bench_env_t e;
    char err[512];
    bool usage;
    PGconn *c = NULL;
    int rc = 1;
    if (bench_env_open(&e, ctx->cfg_file, true, &usage, err, sizeof(err)) != 0) {
        cli_error("bench e2e: %s", err);
        rc = usage ? EXIT_USAGE : 1;
        goto out;
    }
    if ((c = pg_connect(e.db_url, err, sizeof(err))) == NULL) {
        cli_error("bench e2e: %s", err);
        goto out;
    }
    if (worker != NULL && migrate_with(&e, c, worker) != 0)
        goto out;
    bench_note(&ctx->rep, "%zu events (%s texts, %.0f bytes each on average)%s%s", t.n, texts ? "real" : "generated",
               (double)t.bytes / (double)t.n, worker ? "; worker " : "", worker ? worker : "");
    if (bench_produce(&e.cfg, e.cfg.topic_raw, t.n, t.keys, t.payloads, err, sizeof(err)) != 0) {
        cli_error("bench e2e: %s", err);
        goto out;
    }
    pid_t postmaster = bench_pg_postmaster(c), broker = bench_find_process("kafka.Kafka");
    if (postmaster <= 0) {
        cli_error("bench e2e: the PostgreSQL server is not on this machine: its CPU cannot be read");
        goto out;
    }
    PQclear(PQexec(c, "CHECKPOINT"));
    cpu_snap_t a, b;
    snap(c, postmaster, broker, &a);
    const char *env[] = {"CLASSIFIER=rules", NULL};
    double rate;
    if (bench_worker_start(&e, worker, "e2e", env, err, sizeof(err)) != 0 ||
        bench_processed_rate(&e, (long)t.n, 900, NULL, &rate, NULL, err, sizeof(err)) != 0) {
        cli_error("bench e2e: %s", err);
        goto out;
    }
    double worker_cpu = bench_cpu_s(e.pid, 1);
    snap(c, postmaster, broker, &b);
    bench_worker_stop(&e, false);
    /* Marks that rewrote a row in place, indexes untouched (the worker's
     * backends sent their counts as they exited). */
    PGresult *hr = PQexec(c, "SELECT round(n_tup_hot_upd::numeric / greatest(n_tup_upd, 1), 3)"
                             " FROM pg_stat_user_tables WHERE relid = 'dispatchai.enriched_issues'::regclass");
    double hot = PQresultStatus(hr) == PGRES_TUPLES_OK && PQntuples(hr) == 1 ? atof(PQgetvalue(hr, 0, 0)) : -1;
    PQclear(hr);
    /* Where the WAL went, for pg_walinspect's pg_get_wal_stats(). */
    bench_note(&ctx->rep, "the pipeline's WAL: %X/%X to %X/%X", (unsigned)((uint64_t)a.wal >> 32), (unsigned)(uint64_t)a.wal,
               (unsigned)((uint64_t)b.wal >> 32), (unsigned)(uint64_t)b.wal);
    bench_copy_t cp;
    bench_copy_cpu_t ccpu;
    bench_copy_prepare(&cp, &t);
    double copy = bench_copy_run(c, &cp, &ccpu);
    bench_copy_free(&cp);
    double n = (double)t.n, pg = (b.pg - a.pg) * 1e6 / n, br = (b.broker - a.broker) * 1e6 / n,
           dd = worker_cpu * 1e6 / n;
    bench_emit(&ctx->rep, "e2e-throughput",
               "events_per_s=%.0f copy_events_per_s=%.0f ratio=%.3f cpu_us_per_event=%.0f pg_cpu_us_per_event=%.0f "
               "dispatchd_cpu_us_per_event=%.0f broker_cpu_us_per_event=%.0f wal_bytes_per_event=%.0f hot_mark_share=%.3f "
               "events=%zu texts=%s",
               rate, copy, rate / copy, pg + br + dd, pg, dd, br, (b.wal - a.wal) / n, hot, t.n,
               texts ? "real" : "generated");
    rc = 0;
out:
    if (c != NULL)
        PQfinish(c);
    bench_env_close(&e);
    bench_texts_free(&t);
    return rc;
}
