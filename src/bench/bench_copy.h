/*
 * bench_copy.h -- the COPY peer of the storage and end-to-end benchmarks:
 * the issue and enriched rows of the same events (issue_row.h: exactly
 * the rows storage writes, classified by the rules, marked published)
 * written by COPY into dispatchai.issues and dispatchai.enriched_issues in
 * one transaction. The rows are formatted before the clock starts, so the
 * client only hands buffers over and PostgreSQL is the busy side.
 */
#ifndef DISPATCHD_BENCH_COPY_H
#define DISPATCHD_BENCH_COPY_H

#include <libpq-fe.h>

#include "bench_texts.h"
#include "strbuf.h"

/* Both tables' rows, formatted. */
typedef struct bench_copy {
    strbuf_t issues, enriched;
    size_t n;
} bench_copy_t;

/* CPU seconds over a run: this process, and PostgreSQL's (the postmaster
 * and its children: bench_cpu.h); the client's share of the wall time. */
typedef struct bench_copy_cpu {
    double client_s, pg_s, client_share;
} bench_copy_cpu_t;

void bench_copy_prepare(bench_copy_t *cp, const bench_texts_t *t);
/* Empties both tables and checkpoints first (so does the storage bench
 * before its side: neither pays the other's dirty pages). Rows (events)
 * per second; exits after saying why on a database error. */
double bench_copy_run(PGconn *c, const bench_copy_t *cp, bench_copy_cpu_t *cpu);
void bench_copy_free(bench_copy_t *cp);

#endif
