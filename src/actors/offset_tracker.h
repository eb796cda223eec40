/*
 * offset_tracker.h -- which offsets of one partition may be committed: the
 * offsets taken (in increasing order) and which of them finished, in any
 * order. The commit point is one past the highest offset below which every
 * taken offset finished, so a crash never skips an unfinished record; the
 * finished ones above it go into the commit's metadata (offset_map.h), so
 * a restart does not redo them. Pure bookkeeping for the partition-consumer,
 * tested on its own (tests/unit/test_offset_tracker.c).
 */
#ifndef DISPATCHD_OFFSET_TRACKER_H
#define DISPATCHD_OFFSET_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pending_offset {
    int64_t offset;
    bool done;
} pending_offset_t;

typedef struct offset_tracker {
    pending_offset_t *ring;       /* taken, not yet committable: sorted by offset */
    size_t cap, head, count;
    int done_above;               /* finished entries still in the ring */
    int done_runs;                /* ... as runs of consecutive offsets (the offset map's size) */
    int64_t commit_next;          /* the offset to commit; -1 before the first */
} offset_tracker_t;

void tracker_init(offset_tracker_t *t);
void tracker_free(offset_tracker_t *t);
/* Starts over at a committed position (-1: none yet), nothing taken. */
void tracker_reset(offset_tracker_t *t, int64_t committed);
/* An offset taken, above every offset taken before. The first one taken
 * with no committed position becomes the commit point. */
void tracker_take(offset_tracker_t *t, int64_t offset);
/* An offset finished; false if it was not taken (or already passed). */
bool tracker_finish(offset_tracker_t *t, int64_t offset);
/* Moves the commit point over the finished prefix; returns whether it moved. */
bool tracker_advance(offset_tracker_t *t);
/* The commit now: the offset and the metadata listing the finished
 * offsets above it (empty if it cannot fit metalen). */
void tracker_commit(const offset_tracker_t *t, int64_t *offset, char *meta, size_t metalen);

static inline size_t tracker_pending(const offset_tracker_t *t) { return t->count; }
static inline int tracker_done_above(const offset_tracker_t *t) { return t->done_above; }
static inline int tracker_done_runs(const offset_tracker_t *t) { return t->done_runs; }

#endif
