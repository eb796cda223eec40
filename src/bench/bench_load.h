/*
 * bench_load.h -- one trial of `dispatchd bench load` (bench_load.c) and
 * what bench.c reports of it. Open loop: event i is due at start + i/rate
 * and its latency runs from that moment, whether or not the producer kept
 * up, so a stall shows in the percentiles instead of slowing the load.
 */
#ifndef DISPATCHD_BENCH_LOAD_H
#define DISPATCHD_BENCH_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "latency_hist.h"

typedef struct load_opts {
    double rate;                  /* events per second */
    long events;
    int repos;                    /* events spread over bench/RUN-r0 .. bench/RUN-r{K-1} (RUN: the trial's) */
    int body_bytes;               /* 0: the templates' own */
    bool sync;                    /* as a batch sync (sync_id and user_id headers) */
    const char *from;             /* GitHub issue objects, one a line, cycled; NULL: generated */
    int drain_s;                  /* after the last send, wait this long for the rest */
    const char *metrics_url;      /* dispatchd's /metrics, sampled each second; NULL: none */
    bool progress;                /* a line on the terminal while it runs */
} load_opts_t;

typedef struct load_result {
    double rate;
    long events, sent, send_failed, received, lost, duplicates;
    double seconds;               /* first due time to the last event received */
    double throughput;            /* received per second over that */
    latency_hist_t hist;          /* end-to-end, from each event's due time */
    /* dispatchd's own, sampled (-1: not sampled) */
    long max_lag, max_inflight;
    double processed_per_s;
} load_result_t;

/* 0, or an exit code after printing why (2: usage or configuration). */
int load_run(const config_t *cfg, const load_opts_t *o, load_result_t *r);

#endif
