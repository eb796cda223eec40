/*
 * dlq_replays.h -- which DLQ records were replayed to the input: a replay
 * sends only those never sent before, and notes each once Kafka has it,
 * so replaying the same range twice sends nothing the second time. A
 * crash between the send and the note sends that record again on the next
 * replay, which the pipeline absorbs (its version checks).
 */
#ifndef DISPATCHD_DLQ_REPLAYS_H
#define DISPATCHD_DLQ_REPLAYS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* known[i]: record (partitions[i], offsets[i]) of the DLQ topic was
 * replayed before. 0, or -1 with err. */
int dlq_replays_known(PGconn *c, const char *topic, const int32_t *partitions, const int64_t *offsets, int n,
                      bool *known, char *err, size_t errlen);
/* Notes n records as replayed by job_id. 0, or -1 with err. */
int dlq_replays_note(PGconn *c, const char *topic, const int32_t *partitions, const int64_t *offsets, int n,
                     const char *job_id, char *err, size_t errlen);

#endif
