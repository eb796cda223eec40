/*
 * bench.c -- `dispatchd bench load`: the end-to-end harness a user runs
 * against their own deployment (the brokers and database of the
 * configuration, a `dispatchd run` consuming them). One trial at a rate,
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

static int number(const char *flag, const char *v, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= min && d <= max)) {
        cli_error("bench load: %s: a number from %g to %g, not '%.40s'", flag, min, max, v);
        return -1;
    }
    *out = d;
    return 0;
}

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
            if (number(f, v, 0.1, 1e7, &a->o.rate))
                return -1;
        } else if (strcmp(f, "--events") == 0) {
            if (number(f, v, 1, 1e9, &d))
                return -1;
            a->o.events = (long)d;
        } else if (strcmp(f, "--repos") == 0) {
            if (number(f, v, 1, 1e6, &d))
                return -1;
            a->o.repos = (int)d;
        } else if (strcmp(f, "--body-bytes") == 0) {
            if (number(f, v, 0, 1 << 20, &d))
                return -1;
            a->o.body_bytes = (int)d;
        } else if (strcmp(f, "--drain-s") == 0) {
            if (number(f, v, 1, 3600, &d))
                return -1;
            a->o.drain_s = (int)d;
        } else if (strcmp(f, "--p99-target-ms") == 0) {
            if (number(f, v, 1, 3.6e6, &a->p99_target_ms))
                return -1;
        } else if (strcmp(f, "--trial-s") == 0) {
            if (number(f, v, 1, 3600, &a->trial_s))
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

/* Each number in both documents, by its path, with now / then. */
static void compare_walk(FILE *out, json_t *now, json_t *then, const char *path)
{
    const char *k;
    json_t *v;
    json_object_foreach(now, k, v) {
        char p[128];
        snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "." : "", k);
        json_t *w = json_object_get(then, k);
        if (json_is_object(v) && json_is_object(w))
            compare_walk(out, v, w, p);
        else if (json_is_number(v) && json_is_number(w)) {
            double a = json_number_value(v), b = json_number_value(w);
            if (b != 0)
                fprintf(out, "  %-28s %14.2f %14.2f  ratio %.3f\n", p, a, b, a / b);
            else
                fprintf(out, "  %-28s %14.2f %14.2f  ratio %s\n", p, a, b, a == 0 ? "1.000" : "-");
        }
    }
}

/* On stdout, or on stderr when stdout carries --json's document. */
static void compare(FILE *out, json_t *now, json_t *then, const char *file)
{
    fprintf(out, "compared with %s:\n  %-28s %14s %14s\n", file, "figure", "now", "then");
    compare_walk(out, now, then, "");
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

int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("%s", USAGE);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "load") != 0) {
        cli_error("bench: expected `load`\n%s", USAGE);
        return EXIT_USAGE;
    }
    bench_args_t a;
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
        printf("%s", USAGE);
        return 0;
    }
    if (parse(argc, argv, &a) != 0)
        return EXIT_USAGE;
    json_t *then = NULL;
    if (a.compare != NULL) {   /* read first: a bad baseline should not cost a run */
        json_error_t je;
        then = json_load_file(a.compare, 0, &je);
        if (!json_is_object(then)) {
            cli_error("bench load: --compare %s: not a JSON object (%s)", a.compare, je.text);
            json_decref(then);
            return EXIT_USAGE;
        }
    }
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
        compare(a.json ? stderr : stdout, doc, then, a.compare);
    json_decref(then);
    json_decref(doc);
    config_free(&cfg);
    return rc;
}
