/*
 * bench_report.h -- how every `dispatchd bench` suite reports: each result
 * is one `BENCH NAME key=value ...` line (the form the README and CI logs
 * have always shown), kept also as a JSON object {NAME: {key: value}} for
 * --json, and compared figure by figure with an earlier --json document
 * for --compare.
 */
#ifndef DISPATCHD_BENCH_REPORT_H
#define DISPATCHD_BENCH_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct bench_report {
    json_t *doc;   /* {NAME: {key: value}} */
    bool json;     /* lines to stderr, the document to stdout at the end */
} bench_report_t;

void bench_report_init(bench_report_t *r, bool json);
void bench_report_free(bench_report_t *r);

/* Prints `BENCH NAME FIELDS` and keeps FIELDS ("k=v k=v", numbers kept as
 * numbers) under NAME. */
void bench_emit(bench_report_t *r, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The same, kept under KEY instead: for a suite that prints one NAME
 * several times (one line per client count, ...). */
void bench_emit_as(bench_report_t *r, const char *name, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A comment line ("# ..."): progress and context for people. */
void bench_note(bench_report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Each number found in both documents by its path, now against then. */
void bench_compare(FILE *out, json_t *now, json_t *then, const char *file);

/* Loads a --compare baseline: a JSON object, or NULL after saying why. */
json_t *bench_load_baseline(const char *what, const char *file);

#endif
