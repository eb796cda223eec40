/*
 * dlq_replays.h -- which DLQ records were replayed to the input, kept as
 * ranges of offsets per partition (a replay reads each partition in
 * order, so a whole replay is a few rows): a replay leaves out records
 * inside a noted range and notes what Kafka acknowledged, so replaying the
 * same range twice sends nothing the second time. A crash between the
 * send and the note sends those records again on the next replay, which
 * the pipeline absorbs (its version checks).
 */
#ifndef DISPATCHD_DLQ_REPLAYS_H
#define DISPATCHD_DLQ_REPLAYS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dlq_range {
    int32_t partition;
    int64_t first, last;          /* inclusive */
} dlq_range_t;

/* The noted ranges that overlap the spans asked (one per partition:
 * spans[i].first..last), into *out (malloc'd; free it). The count, or -1
 * with err. */
int dlq_replays_overlapping(PGconn *c, const char *topic, const dlq_range_t *spans, int n, dlq_range_t **out,
                            char *err, size_t errlen);
/* Notes ranges replayed by job_id. 0, or -1 with err. */
int dlq_replays_note(PGconn *c, const char *topic, const dlq_range_t *ranges, int n, const char *job_id, char *err,
                     size_t errlen);

/* Sorts ranges by partition and offset and merges those that overlap or
 * touch; returns how many are left. */
int dlq_ranges_normalize(dlq_range_t *ranges, int n);
/* Whether (partition, offset) is inside one of n normalized ranges. */
bool dlq_ranges_contain(const dlq_range_t *ranges, int n, int32_t partition, int64_t offset);

#endif
