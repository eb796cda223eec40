/*
 * dlq_filter.c -- see dlq_filter.h.
 */
#include "dlq_filter.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

void dlq_filter_init(dlq_filter_t *f)
{
    memset(f, 0, sizeof(*f));
    f->from_ms = f->to_ms = -1;
    f->error_class = DLQ_CLASS_ANY;
}

static bool whole(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int when(const char *name, const char *value, long long *out, char *err, size_t errlen)
{
    long long v;
    if (whole(value, 0, 32503680000000LL, &v) || (v = iso8601_to_ms(value)) >= 0) {
        *out = v;
        return 0;
    }
    snprintf(err, errlen, "%s: not an ISO 8601 time (2024-05-01T12:00:00Z) or Unix milliseconds: '%.60s'", name,
             value);
    return -1;
}

int dlq_filter_set(dlq_filter_t *f, const char *name, const char *value, char *err, size_t errlen)
{
    long long v;
    if (strcmp(name, "from") == 0)
        return when(name, value, &f->from_ms, err, errlen);
    if (strcmp(name, "to") == 0)
        return when(name, value, &f->to_ms, err, errlen);
    if (strcmp(name, "key") == 0) {
        if (value[0] == '\0' || strlen(value) >= sizeof(f->key)) {
            snprintf(err, errlen, "key: 1 to %zu bytes", sizeof(f->key) - 1);
            return -1;
        }
        snprintf(f->key, sizeof(f->key), "%s", value);
        return 0;
    }
    if (strcmp(name, "error_class") == 0) {
        if (strcmp(value, "permanent") == 0)
            f->error_class = DLQ_CLASS_PERMANENT;
        else if (strcmp(value, "transient") == 0)
            f->error_class = DLQ_CLASS_TRANSIENT;
        else {
            snprintf(err, errlen, "error_class: permanent or transient, not '%.40s'", value);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "limit") == 0 || strcmp(name, "tail") == 0) {
        if (!whole(value, 1, 1000000000, &v)) {
            snprintf(err, errlen, "%s: a whole number of records from 1, not '%.40s'", name, value);
            return -1;
        }
        *(strcmp(name, "limit") == 0 ? &f->limit : &f->tail) = (long)v;
        return 0;
    }
    if (strcmp(name, "dry_run") == 0) {
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            snprintf(err, errlen, "dry_run: true or false, not '%.40s'", value);
            return -1;
        }
        f->dry_run = strcmp(value, "true") == 0;
        return 0;
    }
    snprintf(err, errlen, "unknown field '%.40s' (from, to, key, error_class, limit, tail, dry_run)", name);
    return -1;
}

int dlq_filter_set_json(dlq_filter_t *f, json_t *obj, char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "the body must be a JSON object");
        return -1;
    }
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        char buf[400];
        if (json_is_null(v))
            continue;
        if (json_is_string(v))
            snprintf(buf, sizeof(buf), "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        else if (json_is_boolean(v))
            snprintf(buf, sizeof(buf), "%s", json_is_true(v) ? "true" : "false");
        else {
            snprintf(err, errlen, "%.40s: a string, a whole number or a boolean", name);
            return -1;
        }
        if (dlq_filter_set(f, name, buf, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int dlq_filter_check(const dlq_filter_t *f, char *err, size_t errlen)
{
    if (f->from_ms >= 0 && f->to_ms >= 0 && f->from_ms > f->to_ms) {
        snprintf(err, errlen, "from is after to");
        return -1;
    }
    return 0;
}

bool dlq_filter_match(const dlq_filter_t *f, const char *key, size_t keylen, const char *error_class, long long ts_ms)
{
    if (f->from_ms >= 0 && ts_ms < f->from_ms)
        return false;
    if (f->to_ms >= 0 && ts_ms > f->to_ms)
        return false;
    if (f->key[0] != '\0' && (key == NULL || keylen != strlen(f->key) || memcmp(key, f->key, keylen) != 0))
        return false;
    if (f->error_class != DLQ_CLASS_ANY) {
        const char *want = f->error_class == DLQ_CLASS_TRANSIENT ? "transient" : "permanent";
        if (error_class == NULL || strcmp(error_class, want) != 0)
            return false;
    }
    return true;
}
