/*
 * bench.c -- `dispatchd bench`: the suites (src/bench/) and `bench load`,
 * the end-to-end harness a user runs against their own deployment (the
 * brokers and database of the configuration, a `dispatchd run` consuming
 * them). One trial at a rate,
 * or --max-rate: trials at rising rates for the highest whose p99 stays
 * under a target with nothing lost. A table for people, --json for
 * machines (the README documents its fields), --compare to print each
 * figure's ratio to an earlier --json run.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_load.h"
#include "bench_report.h"
#include "bench_suites.h"
#include "bench_util.h"
#include "cli.h"
#include "log.h"

static const char *USAGE =
    "usage: dispatchd bench load --rate R --events N [--repos K] [--body-bytes B] [--sync] [--from FILE.jsonl]\n"
    "                            [--drain-s S] [--metrics URL] [--json] [--compare BASELINE.json]\n"
    "                            [--max-rate [--p99-target-ms MS] [--trial-s S]] [--config FILE]\n"
    "\n"
    "Produces N issue events to the input topic at R a second, open loop (each event's latency runs\n"
    "from when it was due), reads them back from the enriched topic by correlation id, and reports\n"
    "throughput, end-to-end latency (p50 p90 p99 p99.9 max), lost and duplicate events, and with\n"
    "--metrics (dispatchd's /metrics URL) its lag and in-flight peaks. The events are generated\n"
    "(K repositories, bodies of B bytes) or read from FILE (GitHub issue objects, one a line, cycled).\n"
    "--sync sends them as a batch sync. --max-rate starts at R and doubles it, then narrows, for the\n"
    "highest rate whose p99 stays under --p99-target-ms (1000) with nothing lost, each trial\n"
    "--trial-s (5) seconds long; --events is ignored then.\n";

typedef struct bench_args {
    load_opts_t o;
    bool json, max_rate;
    const char *compare, *cfg_file;
    double p99_target_ms, trial_s;
} bench_args_t;

static int parse(int argc, char **argv, bench_args_t *a)
{
    memset(a, 0, sizeof(*a));
    a->o.repos = 10;
    a->o.drain_s = 60;
    a->p99_target_ms = 1000;
    a->trial_s = 5;
    double d;
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(f, "--sync") == 0) {
            a->o.sync = true, takes = false;
        } else if (strcmp(f, "--json") == 0) {
            a->json = true, takes = false;
        } else if (strcmp(f, "--max-rate") == 0) {
            a->max_rate = true, takes = false;
        } else if (v == NULL) {
            cli_error("bench load: unknown or incomplete option '%s'\n%s", f, USAGE);
            return -1;
        } else if (strcmp(f, "--rate") == 0) {
            if (bench_flag_number("bench load", f, v, 0.1, 1e7, &a->o.rate))
                return -1;
        } else if (strcmp(f, "--events") == 0) {
            if (bench_flag_number("bench load", f, v, 1, 1e9, &d))
                return -1;
            a->o.events = (long)d;
        } else if (strcmp(f, "--repos") == 0) {
            if (bench_flag_number("bench load", f, v, 1, 1e6, &d))
                return -1;
            a->o.repos = (int)d;
        } else if (strcmp(f, "--body-bytes") == 0) {
            if (bench_flag_number("bench load", f, v, 0, 1 << 20, &d))
                return -1;
            a->o.body_bytes = (int)d;
        } else if (strcmp(f, "--drain-s") == 0) {
            if (bench_flag_number("bench load", f, v, 1, 3600, &d))
                return -1;
            a->o.drain_s = (int)d;
        } else if (strcmp(f, "--p99-target-ms") == 0) {
            if (bench_flag_number("bench load", f, v, 1, 3.6e6, &a->p99_target_ms))
                return -1;
        } else if (strcmp(f, "--trial-s") == 0) {
            if (bench_flag_number("bench load", f, v, 1, 3600, &a->trial_s))
                return -1;
        } else if (strcmp(f, "--from") == 0) {
            a->o.from = v;
        } else if (strcmp(f, "--metrics") == 0) {
            a->o.metrics_url = v;
        } else if (strcmp(f, "--compare") == 0) {
            a->compare = v;
        } else if (strcmp(f, "--config") == 0) {
            a->cfg_file = v;
        } else {
            cli_error("bench load: unknown option '%s'\n%s", f, USAGE);
            return -1;
        }
        i += takes;
    }
    if (a->o.rate <= 0 || (a->o.events <= 0 && !a->max_rate)) {
        cli_error("bench load: --rate and --events are required (--events not with --max-rate)\n%s", USAGE);
        return -1;
    }
    return 0;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static json_t *result_json(const load_result_t *r)
{
    const latency_hist_t *h = &r->hist;
    json_t *o = json_pack("{s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:{s:f, s:f, s:f, s:f, s:f}}", "rate", r->rate,
                          "events", (json_int_t)r->events, "sent", (json_int_t)r->sent, "send_failed",
                          (json_int_t)r->send_failed, "received", (json_int_t)r->received, "lost",
                          (json_int_t)r->lost, "duplicates", (json_int_t)r->duplicates, "seconds", r->seconds,
                          "throughput_per_s", r->throughput, "latency_ms", "p50", ms(lh_quantile(h, 0.5)), "p90",
                          ms(lh_quantile(h, 0.9)), "p99", ms(lh_quantile(h, 0.99)), "p999",
                          ms(lh_quantile(h, 0.999)), "max", ms(h->max_us));
    if (r->processed_per_s >= 0)
        json_object_set_new(o, "dispatchd", json_pack("{s:I, s:I, s:f}", "max_lag", (json_int_t)r->max_lag,
                                                      "max_inflight", (json_int_t)r->max_inflight,
                                                      "processed_per_s", r->processed_per_s));
    return o;
}

static void print_table(const load_result_t *r)
{
    const latency_hist_t *h = &r->hist;
    printf("bench load: %ld events at %.0f/s\n", r->events, r->rate);
    printf("  %-12s %ld sent, %ld received, %ld lost, %ld duplicates, %ld not sent\n", "events", r->sent,
           r->received, r->lost, r->duplicates, r->send_failed);
    printf("  %-12s %.0f events/s received over %.2f s\n", "throughput", r->throughput, r->seconds);
    printf("  %-12s p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", "latency ms", ms(lh_quantile(h, 0.5)),
           ms(lh_quantile(h, 0.9)), ms(lh_quantile(h, 0.99)), ms(lh_quantile(h, 0.999)), ms(h->max_us));
    if (r->processed_per_s >= 0)
        printf("  %-12s lag at most %ld, in flight at most %ld, %.0f records/s\n", "dispatchd", r->max_lag,
               r->max_inflight, r->processed_per_s);
    printf("BENCH e2e-latency rate=%.0f events=%ld p50_ms=%.1f p99_ms=%.1f p999_ms=%.1f lost=%ld dup=%ld\n", r->rate,
           r->events, ms(lh_quantile(h, 0.5)), ms(lh_quantile(h, 0.99)), ms(lh_quantile(h, 0.999)), r->lost,
           r->duplicates);
}

static bool good(const load_result_t *r, double target_ms)
{
    return r->lost == 0 && r->send_failed == 0 && ms(lh_quantile(&r->hist, 0.99)) <= target_ms;
}

/* Doubles the rate from --rate while trials are good, then halves the
 * interval between the best good and the first bad three times. */
static int max_rate(const config_t *cfg, bench_args_t *a, json_t **out)
{
    json_t *curve = json_array();
    double good_rate = 0, bad_rate = 0, rate = a->o.rate;
    load_result_t *r = malloc(sizeof(*r));
    if (r == NULL)
        abort();
    int rc = 0;
    for (int step = 0; step < 24 && rc == 0; step++) {
        if (bad_rate > 0 && (step >= 20 || bad_rate - good_rate <= good_rate * 0.05))
            break;
        load_opts_t o = a->o;
        o.rate = rate;
        o.events = (long)fmax(200, rate * a->trial_s);
        if ((rc = load_run(cfg, &o, r)) != 0)
            break;
        bool ok = good(r, a->p99_target_ms);
        json_array_append_new(curve, json_pack("{s:f, s:f, s:I, s:b}", "rate", rate, "p99_ms",
                                               ms(lh_quantile(&r->hist, 0.99)), "lost", (json_int_t)r->lost, "ok", ok));
        if (!a->json)
            printf("  rate %8.0f/s  p99 %9.1f ms  lost %ld  %s\n", rate, ms(lh_quantile(&r->hist, 0.99)), r->lost,
                   ok ? "ok" : "over");
        if (ok)
            good_rate = rate;
        else
            bad_rate = rate;
        rate = bad_rate > 0 ? (good_rate + bad_rate) / 2 : rate * 2;
        if (bad_rate > 0 && good_rate == 0)
            rate = bad_rate / 2;
    }
    free(r);
    *out = json_pack("{s:f, s:f, s:o}", "p99_target_ms", a->p99_target_ms, "max_rate", good_rate, "curve", curve);
    if (!a->json && rc == 0)
        printf("BENCH e2e-max-rate p99_target_ms=%.0f max_rate=%.0f\n", a->p99_target_ms, good_rate);
    return rc;
}

static int bench_load(int argc, char **argv)
{
    bench_args_t a;
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        printf("%s", USAGE);
        return 0;
    }
    if (parse(argc, argv, &a) != 0)
        return EXIT_USAGE;
    json_t *then = NULL;
    if (a.compare != NULL && (then = bench_load_baseline("bench load", a.compare)) == NULL)
        return EXIT_USAGE;   /* read first: a bad baseline should not cost a run */
    config_t cfg;
    char err[512];
    if (config_load(&cfg, a.cfg_file, err, sizeof(err)) != 0) {
        json_decref(then);
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    log_set_level((enum log_level)log_parse_level(cfg.log_level));
    a.o.progress = !a.json && isatty(STDERR_FILENO);
    json_t *doc = NULL;
    int rc;
    if (a.max_rate) {
        rc = max_rate(&cfg, &a, &doc);
    } else {
        load_result_t *r = malloc(sizeof(*r));
        if (r == NULL)
            abort();
        rc = load_run(&cfg, &a.o, r);
        if (rc == 0) {
            doc = result_json(r);
            if (!a.json)
                print_table(r);
        }
        free(r);
    }
    if (rc == 0 && a.json) {
        char *s = json_dumps(doc, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
    }
    if (rc == 0 && then != NULL)
        bench_compare(a.json ? stderr : stdout, doc, then, a.compare);
    json_decref(then);
    json_decref(doc);
    config_free(&cfg);
    return rc;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv, bench_ctx_t *ctx);
} SUITES[] = {
    {"runtime", bench_runtime}, {"storage", bench_storage}, {"consume", bench_consume},
    {"classify", bench_classify}, {"ws", bench_ws}, {"sync", bench_sync}, {"dlq", bench_dlq},
    {"e2e", bench_e2e},
};

static const char *SUITES_USAGE =
    "usage: dispatchd bench load|runtime|consume|storage|classify|ws|sync|dlq|e2e [OPTIONS] [--json]\n"
    "                       [--compare BASELINE.json] [--config FILE]\n"
    "`dispatchd bench SUITE --help` for a suite's options. Each suite prints `BENCH NAME key=value ...`\n"
    "lines; --json prints them as one JSON object instead ({NAME: {key: value}}), --compare prints\n"
    "each figure's ratio to an earlier --json run.\n";

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2)
            cli_error("bench: expected a suite\n%s", SUITES_USAGE);
        else
            printf("%s", SUITES_USAGE);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "load") == 0)
        return bench_load(argc, argv);
    size_t k = 0;
    while (k < sizeof(SUITES) / sizeof(SUITES[0]) && strcmp(SUITES[k].name, argv[1]) != 0)
        k++;
    if (k == sizeof(SUITES) / sizeof(SUITES[0])) {
        cli_error("bench: unknown suite '%s'\n%s", argv[1], SUITES_USAGE);
        return EXIT_USAGE;
    }
    /* The shared flags out; the rest is the suite's (argv[0] its name). */
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    if (rest == NULL)
        abort();
    int n = 0;
    bool json = false;
    const char *compare_file = NULL;
    bench_ctx_t ctx = {0};
    rest[n++] = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--compare") == 0 && i + 1 < argc)
            compare_file = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            ctx.cfg_file = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            rest[n++] = "--help";
        else
            rest[n++] = argv[i];
    }
    json_t *then = NULL;
    if (compare_file != NULL && (then = bench_load_baseline("bench", compare_file)) == NULL) {
        free(rest);
        return EXIT_USAGE;
    }
    bench_report_init(&ctx.rep, json);
    int rc = SUITES[k].run(n, rest, &ctx);
    if (rc == 0 && json) {
        char *s = json_dumps(ctx.rep.doc, JSON_COMPACT | JSON_REAL_PRECISION(12));
        printf("%s\n", s);
        free(s);
    }
    if (rc == 0 && then != NULL)
        bench_compare(json ? stderr : stdout, ctx.rep.doc, then, compare_file);
    json_decref(then);
    bench_report_free(&ctx.rep);
    free(rest);
    return rc;
}
