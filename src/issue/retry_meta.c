/*
 * retry_meta.c -- see retry_meta.h.
 */
#include "retry_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "timefmt.h"

void retry_meta_init(retry_meta_t *m, const char *topic, int32_t partition, int64_t offset)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->original_topic, sizeof(m->original_topic), "%s", topic);
    m->original_partition = partition;
    m->original_offset = offset;
    m->history = json_array();
}

void retry_meta_free(retry_meta_t *m)
{
    json_decref(m->history);
    m->history = NULL;
}

/* A header's value as a NUL-terminated copy in buf; false when absent or
 * too long. */
static bool header(retry_header_get_fn get, void *ctx, const char *name, char *buf, size_t cap)
{
    size_t len = 0;
    const char *v = get(ctx, name, &len);
    if (v == NULL || len >= cap)
        return false;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return true;
}

static bool integer(const char *s, long long min, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || v < min)
        return false;
    *out = v;
    return true;
}

int retry_meta_read(retry_meta_t *m, retry_header_get_fn get, void *ctx, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    char buf[4096];
    long long v;
    const char *bad = NULL;
    if (!header(get, ctx, "attempts", buf, sizeof(buf)) || !integer(buf, 0, &v) || v > 1000000)
        bad = "attempts";
    else
        m->attempts = (int)v;
    if (!bad && (!header(get, ctx, "not_before", buf, sizeof(buf)) || !integer(buf, 0, &m->not_before_ms)))
        bad = "not_before";
    if (!bad && (!header(get, ctx, "first_failed_at", buf, sizeof(buf)) ||
                 (m->first_failed_ms = iso8601_to_ms(buf)) < 0))
        bad = "first_failed_at";
    if (!bad && !header(get, ctx, "original_topic", m->original_topic, sizeof(m->original_topic)))
        bad = "original_topic";
    if (!bad && (!header(get, ctx, "original_partition", buf, sizeof(buf)) || !integer(buf, 0, &v) || v > INT32_MAX))
        bad = "original_partition";
    else if (!bad)
        m->original_partition = (int32_t)v;
    if (!bad && (!header(get, ctx, "original_offset", buf, sizeof(buf)) || !integer(buf, 0, &v)))
        bad = "original_offset";
    else if (!bad)
        m->original_offset = v;
    if (!bad) {
        m->history = header(get, ctx, "history", buf, sizeof(buf)) ? json_loads(buf, 0, NULL) : NULL;
        if (!json_is_array(m->history))
            bad = "history";
    }
    if (bad) {
        snprintf(err, errlen, "retry header %s missing or malformed", bad);
        retry_meta_free(m);
        return -1;
    }
    m->follows = header(get, ctx, "follows", buf, sizeof(buf)) && strcmp(buf, "true") == 0;
    return 0;
}

void retry_meta_write(const retry_meta_t *m, void (*put)(void *ctx, const char *name, const char *value), void *ctx)
{
    char buf[64], at[ISO8601_LEN];
    snprintf(buf, sizeof(buf), "%d", m->attempts);
    put(ctx, "attempts", buf);
    snprintf(buf, sizeof(buf), "%lld", m->not_before_ms);
    put(ctx, "not_before", buf);
    iso8601_ms(at, sizeof(at), m->first_failed_ms);
    put(ctx, "first_failed_at", at);
    put(ctx, "original_topic", m->original_topic);
    snprintf(buf, sizeof(buf), "%d", m->original_partition);
    put(ctx, "original_partition", buf);
    snprintf(buf, sizeof(buf), "%lld", (long long)m->original_offset);
    put(ctx, "original_offset", buf);
    char *h = json_dumps(m->history, JSON_COMPACT);
    put(ctx, "history", h ? h : "[]");
    free(h);
    if (m->follows)
        put(ctx, "follows", "true");
}

/* At most max bytes of s, not cutting a UTF-8 sequence. */
static json_t *cut_utf8(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    json_t *j = json_stringn(s, n);
    return j ? j : json_string("(not UTF-8)");
}

retry_verdict_t retry_meta_failed(retry_meta_t *m, long long now_ms, const char *error, const backoff_policy_t *p,
                                  long long max_age_ms, uint64_t *rng)
{
    if (m->attempts == 0 || m->first_failed_ms <= 0)
        m->first_failed_ms = now_ms;
    m->attempts++;
    m->follows = false;   /* it failed itself: from now on its own history */
    char at[ISO8601_LEN];
    iso8601_ms(at, sizeof(at), now_ms);
    json_array_append_new(m->history,
                          json_pack("{s:s, s:o}", "at", at, "error", cut_utf8(error ? error : "", RETRY_ERROR_MAX)));
    while (json_array_size(m->history) > RETRY_HISTORY_MAX)
        json_array_remove(m->history, 0);
    bool too_old = max_age_ms > 0 && now_ms - m->first_failed_ms >= max_age_ms;
    if (too_old || !backoff_may_attempt(p, m->attempts + 1))
        return RETRY_GIVE_UP;
    m->not_before_ms = now_ms + (long long)backoff_delay_ms(p, m->attempts, rng);
    return RETRY_AGAIN;
}
