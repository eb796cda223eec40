/*
 * bench_runtime.c -- `dispatchd bench runtime`: the Savina benchmarks on
 * dispatchd's runtime, against a peer program that runs the same ones
 * (bench/runtime/savina_caf.cpp: CAF, built in a checkout when libcaf-dev
 * is there) given with --peer. Each run is a fresh process (`bench runtime
 * --one NAME THREADS` for dispatchd's side), the two interleaved so both
 * see the same minute of a noisy machine; medians compared. Both print
 * `msgs=N seconds=S rss_kb=K`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_suites.h"
#include "bench_util.h"
#include "cli.h"
#include "savina.h"

static const char *USAGE =
    "usage: dispatchd bench runtime [--threads N] [--runs R] [--only NAME]... [--peer PROGRAM]\n"
    "NAME: pingpong counting fjthrput big. PROGRAM runs the same benchmarks (PROGRAM NAME THREADS,\n"
    "printing msgs= seconds= rss_kb=); without it dispatchd's figures are printed alone.\n";

enum { MAX_RUNS = 51 };

static int one(const char *name, const char *threads)
{
    double secs;
    long msgs = savina_run(name, atoi(threads), &secs);
    if (msgs < 0) {
        cli_error("bench runtime: unknown benchmark '%s'", name);
        return EXIT_USAGE;
    }
    printf("msgs=%ld seconds=%.6f rss_kb=%ld\n", msgs, secs, bench_peak_rss_kb(0));
    return 0;
}

/* One run of PROGRAM NAME THREADS: its rate and peak RSS in MiB, or -1. */
static int run_once(const char *program, bool self, const char *name, int threads, double *rate, double *rss_mb)
{
    char th[16], out[512];
    snprintf(th, sizeof(th), "%d", threads);
    char *self_argv[] = {(char *)program, "bench", "runtime", "--one", (char *)name, th, NULL};
    char *peer_argv[] = {(char *)program, (char *)name, th, NULL};
    int rc = bench_capture(self ? self_argv : peer_argv, out, sizeof(out), NULL);
    double msgs, secs, kb;
    if (rc != 0 || !bench_kv(out, "msgs", &msgs) || !bench_kv(out, "seconds", &secs) || !bench_kv(out, "rss_kb", &kb) ||
        secs <= 0) {
        cli_error("bench runtime: %s %s exited %d, printing '%.200s'", program, name, rc, out);
        return -1;
    }
    *rate = msgs / secs;
    *rss_mb = kb / 1024.0;
    return 0;
}

int bench_runtime(int argc, char **argv, bench_ctx_t *ctx)
{
    if (argc == 4 && strcmp(argv[1], "--one") == 0)
        return one(argv[2], argv[3]);
    if (bench_wants_help(argc, argv, USAGE))
        return 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double threads = cpus > 0 ? (double)cpus : 2, runs = 5;
    const char *peer = NULL, *only[8];
    int n_only = 0;
    for (int i = 1; i < argc; i += 2) {   /* every flag takes a value */
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "--threads") == 0) {
            if (bench_flag_number("bench runtime", f, v, 1, 1024, &threads))
                return EXIT_USAGE;
        } else if (strcmp(f, "--runs") == 0) {
            if (bench_flag_number("bench runtime", f, v, 1, MAX_RUNS, &runs))
                return EXIT_USAGE;
        } else if (strcmp(f, "--peer") == 0 && v != NULL) {
            peer = v;
        } else if (strcmp(f, "--only") == 0 && v != NULL && n_only < 8) {
            bool known = false;
            for (int k = 0; savina_names[k]; k++)
                known |= strcmp(savina_names[k], v) == 0;
            if (!known) {
                cli_error("bench runtime: --only: unknown benchmark '%s'\n%s", v, USAGE);
                return EXIT_USAGE;
            }
            only[n_only++] = v;
        } else {
            cli_error("bench runtime: unknown or incomplete option '%s'\n%s", f, USAGE);
            return EXIT_USAGE;
        }
    }
    if (peer != NULL && access(peer, X_OK) != 0) {
        cli_error("bench runtime: --peer %s: not an executable program", peer);
        return EXIT_USAGE;
    }
    bench_note(&ctx->rep, "Savina on %.0f threads, %.0f interleaved runs each, medians", threads, runs);
    for (int k = 0; savina_names[k]; k++) {
        const char *name = savina_names[k];
        bool chosen = n_only == 0;
        for (int j = 0; j < n_only; j++)
            chosen |= strcmp(only[j], name) == 0;
        if (!chosen)
            continue;
        double d[MAX_RUNS], c[MAX_RUNS], d_rss = 0, c_rss = 0, rss;
        for (int r = 0; r < (int)runs; r++) {
            if (run_once(bench_self_exe(), true, name, (int)threads, &d[r], &rss) != 0)
                return 1;
            d_rss = rss > d_rss ? rss : d_rss;
            if (peer != NULL) {
                if (run_once(peer, false, name, (int)threads, &c[r], &rss) != 0)
                    return 1;
                c_rss = rss > c_rss ? rss : c_rss;
            }
        }
        double dm = bench_median(d, (int)runs);
        char bname[32];
        snprintf(bname, sizeof(bname), "savina-%s", name);
        if (peer != NULL) {
            double cm = bench_median(c, (int)runs);
            bench_emit(&ctx->rep, bname,
                       "dispatchd_msgs_per_s=%.0f caf_msgs_per_s=%.0f ratio=%.2f peak_rss_mb=%.1f caf_peak_rss_mb=%.1f",
                       dm, cm, dm / cm, d_rss, c_rss);
        } else {
            bench_emit(&ctx->rep, bname, "dispatchd_msgs_per_s=%.0f peak_rss_mb=%.1f", dm, d_rss);
        }
    }
    return 0;
}
