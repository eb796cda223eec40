/*
 * offset_tracker.c -- see offset_tracker.h.
 */
#include "offset_tracker.h"

#include <stdlib.h>

#include "offset_map.h"

void tracker_init(offset_tracker_t *t)
{
    *t = (offset_tracker_t){.commit_next = -1};
}

void tracker_free(offset_tracker_t *t)
{
    free(t->ring);
    tracker_init(t);
}

void tracker_reset(offset_tracker_t *t, int64_t committed)
{
    t->head = t->count = 0;
    t->done_above = 0;
    t->done_runs = 0;
    t->commit_next = committed >= 0 ? committed : -1;
}

static pending_offset_t *at(const offset_tracker_t *t, size_t i)
{
    return &t->ring[(t->head + i) % t->cap];
}

void tracker_take(offset_tracker_t *t, int64_t offset)
{
    if (t->count == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        pending_offset_t *n = malloc(ncap * sizeof(*n));
        if (n == NULL)
            abort();
        for (size_t i = 0; i < t->count; i++)
            n[i] = *at(t, i);
        free(t->ring);
        t->ring = n;
        t->cap = ncap;
        t->head = 0;
    }
    t->ring[(t->head + t->count) % t->cap] = (pending_offset_t){offset, false};
    t->count++;
    if (t->commit_next < 0)
        t->commit_next = offset;   /* nothing committed before: start here */
}

/* Offsets are taken in increasing order, so the ring is sorted; they are
 * nearly always consecutive, so the entry is first looked for at its
 * distance from the oldest (one cache line instead of a search). */
bool tracker_finish(offset_tracker_t *t, int64_t offset)
{
    size_t i = t->count;
    if (t->count > 0 && offset >= at(t, 0)->offset) {
        uint64_t guess = (uint64_t)(offset - at(t, 0)->offset);
        if (guess < t->count && at(t, guess)->offset == offset)
            i = (size_t)guess;
    }
    size_t lo = 0, hi = t->count;
    while (i == t->count && lo < hi) {
        size_t mid = (lo + hi) / 2;
        int64_t o = at(t, mid)->offset;
        if (o == offset)
            i = mid;
        else if (o < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (i == t->count || at(t, i)->done)
        return false;
    at(t, i)->done = true;
    t->done_above++;
    /* A run of the offset map: joined to a finished neighbour, or new. */
    bool left = i > 0 && at(t, i - 1)->done && at(t, i - 1)->offset + 1 == offset;
    bool right = i + 1 < t->count && at(t, i + 1)->done && at(t, i + 1)->offset == offset + 1;
    t->done_runs += 1 - (int)left - (int)right;
    return true;
}

bool tracker_advance(offset_tracker_t *t)
{
    bool moved = false;
    while (t->count > 0 && at(t, 0)->done) {
        int64_t o = at(t, 0)->offset;
        t->commit_next = o + 1;
        t->head = (t->head + 1) % t->cap;
        t->count--;
        t->done_above--;
        if (t->count == 0 || !at(t, 0)->done || at(t, 0)->offset != o + 1)
            t->done_runs--;   /* a run ended below the commit point */
        moved = true;
    }
    return moved;
}

void tracker_commit(const offset_tracker_t *t, int64_t *offset, char *meta, size_t metalen)
{
    offset_map_t done;
    offset_map_init(&done);
    for (size_t i = 0; i < t->count; i++)
        if (at(t, i)->done)
            offset_map_add(&done, at(t, i)->offset);
    *offset = t->commit_next;
    if (offset_map_encode(&done, t->commit_next, meta, metalen) < 0)
        meta[0] = '\0';   /* the partition pauses long before the map could outgrow it */
    offset_map_free(&done);
}
