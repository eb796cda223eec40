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

/* Empties both tables first. Rows (events) per second, and the share of
 * the wall time this process was on a CPU meanwhile in *client_share;
 * exits after saying why on a database error. */
double bench_copy_rows(PGconn *c, const bench_texts_t *t, double *client_share);

#endif
