/*
 * park_set.h -- the keys of a partition that have records in the retry
 * path (issues.raw.retry). While a key is parked, its later records follow
 * it into the path instead of overtaking it, so a key's effects keep
 * offset order while every other key goes on. A key is released once the
 * retry path has committed past the last record of it sent there (the
 * DLQ-retry actor commits a retry record only when it is done: stored and
 * published, or in the DLQ); a record on its way to the path (no offset
 * yet) keeps the key parked. Pure bookkeeping for the partition-consumer,
 * tested on its own (tests/unit/test_park_set.c).
 */
#ifndef DISPATCHD_PARK_SET_H
#define DISPATCHD_PARK_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

typedef struct park_set {
    strmap_t keys;                /* key -> parked_t */
} park_set_t;

void park_init(park_set_t *p);
void park_free(park_set_t *p);

/* A record of key is on its way to the retry path: the key is parked
 * (until that record, acknowledged, is committed past there). */
void park_sending(park_set_t *p, const char *key);
/* Kafka acknowledged it at retry partition/offset (partition < 0: it was
 * not sent after all, and parks nothing more). */
void park_sent(park_set_t *p, const char *key, int32_t partition, int64_t offset);
bool park_has(const park_set_t *p, const char *key);
size_t park_count(const park_set_t *p);

/* The retry path's committed offsets, by retry partition (n of them; a
 * partition beyond n, or < 0, is not known yet): keys whose records there
 * are all committed are released. Returns how many. */
size_t park_release(park_set_t *p, const int64_t *committed, int n);

#endif
