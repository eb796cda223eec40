/*
 * enriched.h -- the issues.enriched value: the raw event with
 * `classification` and `processing_metadata` added (CONTRACT §3).
 */
#ifndef DISPATCHD_ENRICHED_H
#define DISPATCHD_ENRICHED_H

#include <jansson.h>
#include <stddef.h>

#include "strbuf.h"

typedef struct enriched_meta {
    const char *processed_at;     /* ISO 8601 */
    long long processing_time_ms;
    const char *model_version, *provider;
    double cost_usd;
} enriched_meta_t;

/* Into out (emptied first). The raw bytes are kept as they are and the two
 * keys spliced in before the closing brace (serializing the whole event
 * again cost a fifth of the process's CPU); an event that has either key
 * already -- root, the reference parser's tree of it, says so; the fast
 * parser takes no such event -- is rebuilt from root, so the keys are
 * replaced rather than repeated. cls_json: the classification as JSON. */
void enriched_value(strbuf_t *out, const char *raw, size_t len, json_t *root, const char *cls_json,
                    const enriched_meta_t *meta);

#endif
