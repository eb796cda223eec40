/*
 * latency_hist.c -- see latency_hist.h.
 */
#include "latency_hist.h"

#include <string.h>

void lh_init(latency_hist_t *h)
{
    memset(h, 0, sizeof(*h));
}

/* Values below 2^SUB_BITS have a bucket each; above, a power of two is
 * cut into 2^SUB_BITS equal parts. */
static int bucket_of(uint64_t v)
{
    if (v < (1u << LH_SUB_BITS))
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    if (msb >= LH_MAX_BITS)
        return LH_BUCKETS - 1;
    int shift = msb - LH_SUB_BITS;
    return ((shift + 1) << LH_SUB_BITS) + (int)((v >> shift) & ((1u << LH_SUB_BITS) - 1));
}

static uint64_t upper_edge(int b)
{
    if (b < (1 << LH_SUB_BITS))
        return (uint64_t)b;
    int shift = (b >> LH_SUB_BITS) - 1;
    uint64_t sub = (uint64_t)(b & ((1 << LH_SUB_BITS) - 1));
    return (((uint64_t)1 << LH_SUB_BITS | sub) << shift) + ((uint64_t)1 << shift) - 1;
}

void lh_record(latency_hist_t *h, int64_t us)
{
    uint64_t v = us < 0 ? 0 : (uint64_t)us;
    h->counts[bucket_of(v)]++;
    h->total++;
    if (v > h->max_us)
        h->max_us = v;
}

uint64_t lh_quantile(const latency_hist_t *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank > h->total)
        rank = h->total;
    uint64_t seen = 0;
    for (int b = 0; b < LH_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen >= rank) {
            if (b == LH_BUCKETS - 1)
                return h->max_us;   /* the last bucket also holds what is beyond the range */
            uint64_t edge = upper_edge(b);
            return edge < h->max_us ? edge : h->max_us;
        }
    }
    return h->max_us;
}
