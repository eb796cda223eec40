/*
 * bench_texts.h -- the issue events the storage and end-to-end benchmarks
 * write: issues.raw values as a sync publishes them, whose titles and
 * bodies are real issues' (a CSV of the NLBSE'24 layout, cycled, bodies
 * cut at 8,000 bytes) or, without data, generated at the lengths real
 * issues have. Each has an id and number of its own.
 */
#ifndef DISPATCHD_BENCH_TEXTS_H
#define DISPATCHD_BENCH_TEXTS_H

#include <stddef.h>

#define BENCH_TEXTS_MAX_BODY 8000

typedef struct bench_texts {
    char **payloads;   /* the events' JSON */
    char **keys;       /* their issues.raw keys */
    size_t n;
    size_t bytes;      /* of all payloads */
} bench_texts_t;

/* n events, GitHub ids from id_base; csv NULL: generated. 0, or -1 after
 * saying why. */
int bench_texts_make(bench_texts_t *t, size_t n, const char *csv, long long id_base);
void bench_texts_free(bench_texts_t *t);

#endif
