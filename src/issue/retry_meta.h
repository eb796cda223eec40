/*
 * retry_meta.h -- what a record carries through the retry path
 * (issues.raw.retry) as Kafka headers, and the decision after each failed
 * attempt there: try again at not_before (the path's backoff policy), or
 * give up (the DLQ, error_class transient, its whole history in headers).
 *
 *   attempts            failed attempts so far (the in-process round that
 *                       sent it here counts as the first)
 *   not_before          Unix ms before which it is not tried again
 *   first_failed_at     ISO 8601, the first failure
 *   original_topic, original_partition, original_offset
 *   history             JSON [{"at": ISO 8601, "error": "..."}], oldest
 *                       first, the last RETRY_HISTORY_MAX, errors cut to
 *                       RETRY_ERROR_MAX bytes
 *   follows             "true": it did not fail itself; it follows an
 *                       earlier record of its key into the path, so the
 *                       key's effects keep their order
 *
 * Pure: headers are read and written through callbacks (tested without
 * librdkafka: tests/unit/test_retry_meta.c).
 */
#ifndef DISPATCHD_RETRY_META_H
#define DISPATCHD_RETRY_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backoff.h"

#define RETRY_HISTORY_MAX 8
#define RETRY_ERROR_MAX 200

typedef struct retry_meta {
    int attempts;
    long long not_before_ms;
    long long first_failed_ms;
    char original_topic[250];
    int32_t original_partition;
    int64_t original_offset;
    bool follows;
    json_t *history;              /* owned; an array */
} retry_meta_t;

/* A record entering the path from topic/partition/offset. */
void retry_meta_init(retry_meta_t *m, const char *topic, int32_t partition, int64_t offset);
void retry_meta_free(retry_meta_t *m);

/* The value of header `name` (len set), or NULL when absent. */
typedef const char *(*retry_header_get_fn)(void *ctx, const char *name, size_t *len);
/* Reads a record's headers. 0, or -1 with err naming the header that is
 * missing or malformed (m is then freed). */
int retry_meta_read(retry_meta_t *m, retry_header_get_fn get, void *ctx, char *err, size_t errlen);
/* Writes them: put(ctx, name, value) for each. */
void retry_meta_write(const retry_meta_t *m, void (*put)(void *ctx, const char *name, const char *value), void *ctx);

typedef enum {
    RETRY_AGAIN,                  /* back into the path, due at not_before_ms */
    RETRY_GIVE_UP,                /* to the DLQ: attempts or age spent */
} retry_verdict_t;

/* A failed attempt at now_ms: counted, kept in the history, and judged by
 * policy p (its max_attempts, and max_age_ms since the first failure when
 * > 0). */
retry_verdict_t retry_meta_failed(retry_meta_t *m, long long now_ms, const char *error, const backoff_policy_t *p,
                                  long long max_age_ms, uint64_t *rng);

#endif
