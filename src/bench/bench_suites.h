/*
 * bench_suites.h -- the side-by-side suites of `dispatchd bench` (bench.c
 * dispatches; `bench load` is bench_load.c's). Each compares dispatchd with
 * a named peer or limit in one run and reports through bench_report.h; the
 * ones that need a broker and a database use those of the configuration,
 * in a scratch namespace of their own (bench_env.h).
 */
#ifndef DISPATCHD_BENCH_SUITES_H
#define DISPATCHD_BENCH_SUITES_H

#include "bench_report.h"

typedef struct bench_ctx {
    bench_report_t rep;
    const char *cfg_file;   /* --config, or NULL */
} bench_ctx_t;

/* argv[0] is the suite's name; the shared flags (--json, --compare,
 * --config) are already taken out. Each returns an exit code. */
int bench_runtime(int argc, char **argv, bench_ctx_t *ctx);
int bench_storage(int argc, char **argv, bench_ctx_t *ctx);
int bench_classify(int argc, char **argv, bench_ctx_t *ctx);
/* Its --llm part (bench_classify_llm.c): n issues, then rate_n limited. */
int bench_classify_llm(bench_ctx_t *ctx, long n, long rate_n);
int bench_consume(int argc, char **argv, bench_ctx_t *ctx);
int bench_ws(int argc, char **argv, bench_ctx_t *ctx);
int bench_sync(int argc, char **argv, bench_ctx_t *ctx);
int bench_dlq(int argc, char **argv, bench_ctx_t *ctx);
int bench_e2e(int argc, char **argv, bench_ctx_t *ctx);

#endif
