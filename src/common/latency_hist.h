/*
 * latency_hist.h -- a log-linear latency histogram in the manner of
 * HdrHistogram: microseconds from 1 to about 73 minutes in buckets whose
 * width is 1/64 of their power of two, so any quantile is within ~1.6 %
 * of the true value, in a fixed 26 KB with no allocation per sample.
 * Not thread-safe: one writer.
 */
#ifndef DISPATCHD_LATENCY_HIST_H
#define DISPATCHD_LATENCY_HIST_H

#include <stdint.h>

#define LH_SUB_BITS 6                    /* 64 sub-buckets per power of two */
#define LH_MAX_BITS 32                   /* up to 2^32 us */
#define LH_BUCKETS ((LH_MAX_BITS - LH_SUB_BITS + 1) << LH_SUB_BITS)

typedef struct latency_hist {
    uint64_t counts[LH_BUCKETS];
    uint64_t total;
    uint64_t max_us;
} latency_hist_t;

void lh_init(latency_hist_t *h);
/* Records one value (negative as 0; beyond the range in the last bucket). */
void lh_record(latency_hist_t *h, int64_t us);
/* The value at quantile q (0..1): the upper edge of its bucket, at most
 * the largest recorded; 0 when empty. */
uint64_t lh_quantile(const latency_hist_t *h, double q);

#endif
