/*
 * dlq_filter.h -- which DLQ records an inspection or a replay is about:
 * a time range (when they entered the DLQ: the record's Kafka timestamp),
 * each partition's last records only, a key, an error class, a limit. Set from name/value pairs, so the query
 * string, a JSON body and the command line's flags are read alike, each
 * bad value named in a message for a 400 (or exit 2). Pure (tested on its
 * own: tests/unit/test_dlq_filter.c).
 */
#ifndef DISPATCHD_DLQ_FILTER_H
#define DISPATCHD_DLQ_FILTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DLQ_LIST_DEFAULT_LIMIT 100
#define DLQ_LIST_MAX_LIMIT 10000

typedef enum { DLQ_CLASS_ANY = -1, DLQ_CLASS_PERMANENT = 0, DLQ_CLASS_TRANSIENT = 1 } dlq_class_t;

typedef struct dlq_filter {
    long long from_ms;            /* -1: from the beginning */
    long long to_ms;              /* -1: to the end; inclusive */
    char key[320];                /* "": any */
    dlq_class_t error_class;
    long limit;                   /* 0: none (a replay's default) */
    long tail;                    /* > 0: only each partition's last `tail` records */
    bool dry_run;
} dlq_filter_t;

void dlq_filter_init(dlq_filter_t *f);
/* name: from, to (ISO 8601 or Unix milliseconds), key, error_class
 * (permanent | transient), limit (1..), tail (1..), dry_run (true | false). 0, or -1
 * with err naming the field and what was wrong. */
int dlq_filter_set(dlq_filter_t *f, const char *name, const char *value, char *err, size_t errlen);
/* Each member of a JSON object (strings, numbers, booleans; null = unset). */
int dlq_filter_set_json(dlq_filter_t *f, json_t *obj, char *err, size_t errlen);
/* Checks what no single field shows (from after to). */
int dlq_filter_check(const dlq_filter_t *f, char *err, size_t errlen);

/* Whether a DLQ record with these (the key, its error_class header, its
 * timestamp) matches; the limit is the caller's. */
bool dlq_filter_match(const dlq_filter_t *f, const char *key, size_t keylen, const char *error_class,
                      long long ts_ms);

#endif
