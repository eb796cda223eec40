/*
 * consistency_counts.h -- the database's side of GET /health/consistency,
 * in one round trip: rows, classifications, classifications never marked
 * published (and the oldest), applied offsets above Kafka's commit points,
 * and rows deleted outside dispatchd in the last day (schema 9).
 */
#ifndef DISPATCHD_CONSISTENCY_COUNTS_H
#define DISPATCHD_CONSISTENCY_COUNTS_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct consistency_counts {
    int64_t issues;
    int64_t enriched;
    int64_t unpublished;
    int64_t oldest_unpublished_ms;     /* 0: none */
    int64_t applied_pending;           /* applied offsets of the group's input, not pruned yet */
    int64_t deleted_outside;           /* rows deleted behind dispatchd's back, last 24 h */
    int64_t truncated_outside;         /* TRUNCATEs, last 24 h */
} consistency_counts_t;

/* 0, or -1 with err. */
int consistency_counts_read(PGconn *c, const char *group, const char *topic, consistency_counts_t *out, char *err,
                            size_t errlen);

#endif
