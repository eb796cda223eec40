/*
 * bench_kafka.h -- the bare librdkafka loops the suites compare dispatchd
 * with, and fill topics with, on the configuration's broker (its [kafka]
 * settings apply: security, ...): a producer as fast as it can go, and a
 * consumer that reads and drops.
 */
#ifndef DISPATCHD_BENCH_KAFKA_H
#define DISPATCHD_BENCH_KAFKA_H

#include <stdbool.h>

#include "config.h"

typedef struct bench_fill_opts {
    long count;
    int bytes;            /* each value about this long: an issue event padded */
    long keys;            /* keys bench/bench:issue:1..keys, in turn */
    bool text;            /* pads of words (compress like issue text) instead of one letter */
    const char *compression;   /* "lz4", "none" */
    bool warm;            /* a first send delivered before the clock starts */
    int window;           /* at most this many waiting in the producer (0: no limit) */
} bench_fill_opts_t;

/* Produces o->count records to topic; *seconds from the first send (after
 * warming) to the last acknowledgement. 0, or -1 with err. */
int bench_fill(const config_t *cfg, const char *topic, const bench_fill_opts_t *o, double *seconds, char *err,
               size_t errlen);

/* Produces n records (keys[i], values[i]) as dispatchd's producer would
 * and waits for every acknowledgement. 0, or -1 with err. */
int bench_produce(const config_t *cfg, const char *topic, size_t n, char *const *keys, char *const *values,
                  char *err, size_t errlen);

/* Reads count records of topic from the start in a group of its own and
 * drops them: the rate from the first record to the last. 0, or -1. */
int bench_drain(const config_t *cfg, const char *topic, long count, double *msgs_per_s, char *err, size_t errlen);

#endif
