/*
 * bench_consume.c -- `dispatchd bench consume`, on the configuration's
 * broker in a scratch namespace, the pipeline's stages off (`stages =
 * noop`: consumption alone is measured):
 *   consume-raw          N (1,000,000) ~1 KB records over 10,000 keys read
 *                        by dispatchd with a no-op stage, against the bare
 *                        librdkafka loop reading the same topic;
 *   ordered-concurrency  each record held 50 ms, 10,000 keys, at most 333
 *                        in flight per partition (999 per process): against
 *                        in-flight / hold time, capped by the bare rate;
 *   backpressure         the whole backlog in front of a stage that never
 *                        finishes: the process's peak memory, the partitions
 *                        paused, the records taken (the rest stays in Kafka).
 * The last two hold records with a fault only the test build has, so they
 * are compiled into dispatchd-faults alone (the shipped binary names no
 * fault): `dispatchd-faults bench consume [--held-only]`, its workers
 * itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_env.h"
#include "bench_kafka.h"
#include "bench_suites.h"
#include "bench_util.h"
#include "cli.h"

static const char *USAGE =
    "usage: dispatchd bench consume [--records N] [--ordered-records M] [--held-only]\n"
    "N (1,000,000) records of ~1 KB for consume-raw and backpressure, M (200,000) for\n"
    "ordered-concurrency. The held runs (ordered-concurrency, backpressure) hold records with a\n"
    "test fault: only `dispatchd-faults bench consume` runs them (--held-only: them alone).\n";

#ifdef DISPATCHD_FAULTS
static int held_runs(bench_env_t *e, bench_ctx_t *ctx, double raw, long n, long ordered_n)
{
    char err[512];
    double got;
    const char *ordered[] = {"DISPATCHD_STAGES=noop", "DISPATCHD_HOLD_MS=50", "DISPATCHD_MAX_INFLIGHT=333", "DISPATCHD_ORDERING=key", NULL};
    if (bench_worker_start(e, NULL, "ordered", ordered, err, sizeof(err)) != 0 ||
        bench_processed_rate(e, ordered_n, 600, NULL, &got, NULL, err, sizeof(err)) != 0) {
        cli_error("bench consume: ordered-concurrency: %s", err);
        return 1;
    }
    bench_worker_stop(e, false);
    const double inflight = 999;
    double ideal = inflight / 0.050 < raw ? inflight / 0.050 : raw;
    bench_emit(&ctx->rep, "ordered-concurrency",
               "ideal_msgs_per_s=%.0f achieved_msgs_per_s=%.0f ratio=%.3f records=%ld keys=10000 "
               "max_inflight_per_process=%.0f hold_ms=50",
               ideal, got, got / ideal, ordered_n, inflight);

    const char *stalled[] = {"DISPATCHD_STAGES=noop", "DISPATCHD_HOLD_MS=600000", "DISPATCHD_MAX_INFLIGHT=1000", NULL};
    if (bench_worker_start(e, NULL, "stalled", stalled, err, sizeof(err)) != 0) {
        cli_error("bench consume: backpressure: %s", err);
        return 1;
    }
    long peak = 0;
    for (int i = 0; i < 75; i++) {
        usleep(200000);
        long kb = bench_peak_rss_kb(e->pid);
        peak = kb > peak ? kb : peak;
    }
    double paused = bench_metric(e, "dispatchd_partitions_paused");
    double taken = bench_metric(e, "dispatchd_inflight_records");
    bench_worker_stop(e, true);
    bench_emit(&ctx->rep, "backpressure",
               "backlog=%ld peak_rss_mb=%.1f partitions_paused=%.0f records_taken=%.0f seconds=15", n,
               (double)peak / 1024, paused, taken);
    return 0;
}
#endif

int bench_consume(int argc, char **argv, bench_ctx_t *ctx)
{
    if (bench_wants_help(argc, argv, USAGE))
        return 0;
    double n = 1000000, ordered_n = 200000;
    bool held_only = false;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;   /* the flag has a value */
        if (strcmp(f, "--records") == 0) {
            if (bench_flag_number("bench consume", f, v, 10, 1e9, &n))
                return EXIT_USAGE;
        } else if (strcmp(f, "--ordered-records") == 0) {
            if (bench_flag_number("bench consume", f, v, 10, 1e9, &ordered_n))
                return EXIT_USAGE;
        } else if (strcmp(f, "--held-only") == 0) {
            held_only = true, takes = false;
        } else {
            cli_error("bench consume: unknown or incomplete option '%s'\n%s", f, USAGE);
            return EXIT_USAGE;
        }
        i += takes;
    }
#ifndef DISPATCHD_FAULTS
    if (held_only) {
        cli_error("bench consume: --held-only: the held runs are in the test build only (dispatchd-faults)");
        return EXIT_USAGE;
    }
#endif
    if (ordered_n > n)
        ordered_n = n;
    bench_env_t e;
    char err[512];
    bool usage;
    if (bench_env_open(&e, ctx->cfg_file, true, &usage, err, sizeof(err)) != 0) {
        cli_error("bench consume: %s", err);
        bench_env_close(&e);
        return usage ? EXIT_USAGE : 1;
    }
    int rc = 1;
    double secs, raw, got;
    bench_note(&ctx->rep, "filling %s with %.0f records of ~1 KB over 10,000 keys", e.cfg.topic_raw, n);
    bench_fill_opts_t fo = {.count = (long)n, .bytes = 1000, .keys = 10000, .compression = "none"};
    if (bench_fill(&e.cfg, e.cfg.topic_raw, &fo, &secs, err, sizeof(err)) != 0 ||
        bench_drain(&e.cfg, e.cfg.topic_raw, (long)n, &raw, err, sizeof(err)) != 0) {
        cli_error("bench consume: %s", err);
        goto out;
    }
    if (!held_only) {
        const char *noop[] = {"DISPATCHD_STAGES=noop", NULL};
        if (bench_worker_start(&e, NULL, "raw", noop, err, sizeof(err)) != 0 ||
            bench_processed_rate(&e, (long)n, 600, NULL, &got, NULL, err, sizeof(err)) != 0) {
            cli_error("bench consume: consume-raw: %s", err);
            goto out;
        }
        bench_worker_stop(&e, false);
        bench_emit(&ctx->rep, "consume-raw", "librdkafka_msgs_per_s=%.0f dispatchd_msgs_per_s=%.0f ratio=%.3f", raw,
                   got, got / raw);
    }
#ifdef DISPATCHD_FAULTS
    rc = held_runs(&e, ctx, raw, (long)n, (long)ordered_n);
#else
    bench_note(&ctx->rep, "ordered-concurrency and backpressure: in the test build only (dispatchd-faults bench consume)");
    rc = 0;
#endif
out:
    bench_env_close(&e);
    return rc;
}
