/*
 * offset_map.h -- the finished offsets above a partition's commit point, in
 * the compact text that rides in the commit's metadata, so that a restart or
 * a new owner does not redo them.
 *
 * Format: "dd1:" then runs "GAP+LEN" separated by commas. The first run
 * starts GAP offsets after the commit offset, each later one GAP offsets
 * after the end of the previous run. Committed offset 100 with 102-104 and
 * 110 finished reads "dd1:2+3,5+1".
 */
#ifndef DISPATCHD_OFFSET_MAP_H
#define DISPATCHD_OFFSET_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OFFSET_MAP_MAX_BYTES 4000   /* Kafka's offset.metadata.max.bytes is 4096 */

typedef struct offset_run {
    int64_t start;
    int64_t len;
} offset_run_t;

typedef struct offset_map {
    offset_run_t *runs;
    size_t n, cap;
} offset_map_t;

void offset_map_init(offset_map_t *m);
void offset_map_free(offset_map_t *m);
void offset_map_clear(offset_map_t *m);
/* Offsets must come in increasing order; neighbours merge into one run. */
void offset_map_add(offset_map_t *m, int64_t offset);
bool offset_map_contains(const offset_map_t *m, int64_t offset);
/* Writes the metadata text for commit offset `commit` into out (cap bytes);
 * returns its length, or -1 if it does not fit. */
int offset_map_encode(const offset_map_t *m, int64_t commit, char *out, size_t cap);
/* Reads metadata written by offset_map_encode for the same commit offset.
 * Empty or foreign metadata gives an empty map and 0; malformed "dd1:" text
 * gives -1 (and an empty map): the partition is then processed from the
 * commit point, which is safe. */
int offset_map_decode(offset_map_t *m, int64_t commit, const char *meta);

#endif
