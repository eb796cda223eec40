/*
 * gh_rules.c -- see gh_rules.h.
 */
#include "gh_rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backoff.h"

bool gh_link(const char *link, const char *rel, char *url, size_t cap)
{
    /* <url>; rel="next", <url>; rel="last" -- parameters may come in any
     * order and with spaces around them. */
    const char *p = link;
    while (p != NULL && (p = strchr(p, '<')) != NULL) {
        const char *end = strchr(p, '>');
        if (end == NULL)
            return false;
        const char *next = strchr(end, ',');
        const char *params_end = next ? next : end + strlen(end);
        bool match = false;
        for (const char *q = end; q < params_end; q++) {
            if (strncasecmp(q, "rel", 3) != 0)
                continue;
            const char *v = q + 3;
            while (v < params_end && (*v == ' ' || *v == '='))
                v++;
            bool quoted = v < params_end && *v == '"';
            v += quoted;
            size_t n = strlen(rel);
            /* rel may list several relation types: rel="next last" */
            while (v < params_end && *v != '"' && *v != ';' && *v != ',') {
                if ((size_t)(params_end - v) >= n && strncasecmp(v, rel, n) == 0 &&
                    (v[n] == '"' || v[n] == ' ' || v[n] == ';' || v[n] == ',' || v + n == params_end))
                    match = true;
                while (v < params_end && *v != ' ' && *v != '"' && *v != ';' && *v != ',')
                    v++;
                while (v < params_end && *v == ' ')
                    v++;
            }
            break;
        }
        if (match) {
            size_t len = (size_t)(end - p - 1);
            if (len + 1 > cap)
                return false;
            memcpy(url, p + 1, len);
            url[len] = '\0';
            return true;
        }
        p = next;
    }
    return false;
}

void gh_answer_init(gh_answer_t *a)
{
    a->status = 0;
    a->remaining = -1;
    a->reset_s = -1;
    a->retry_after_s = -1;
}

/* The value of `name: value` when line is that header; NULL otherwise. */
const char *gh_header_value(const char *line, size_t len, const char *name, size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    const char *v = line + n + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    *vlen = (size_t)(end - v);
    return v;
}

/* A non-negative decimal header value; -1 when it is not one. */
static long long number(const char *v, size_t len)
{
    if (len == 0 || len > 18)
        return -1;
    long long x = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)v[i]))
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

void gh_answer_header(gh_answer_t *a, const char *line, size_t len)
{
    size_t vl;
    const char *v;
    if ((v = gh_header_value(line, len, "x-ratelimit-remaining", &vl)) != NULL)
        a->remaining = (long)number(v, vl);
    else if ((v = gh_header_value(line, len, "x-ratelimit-reset", &vl)) != NULL)
        a->reset_s = (int64_t)number(v, vl);
    else if ((v = gh_header_value(line, len, "retry-after", &vl)) != NULL)
        a->retry_after_s = (long)number(v, vl);
}

static uint64_t until_reset_ms(const gh_answer_t *a, int64_t now_s)
{
    int64_t s = a->reset_s + 1 - now_s;   /* GitHub's reset second, and one more */
    return s > 0 ? (uint64_t)s * 1000 : 1000;
}

gh_verdict_t gh_judge(const gh_answer_t *a, int64_t now_s, gh_retry_t *r, uint64_t *rng, uint64_t *wait_ms,
                      char *reason, size_t reason_len)
{
    char scratch[8];
    if (reason == NULL) {
        reason = scratch;
        reason_len = sizeof(scratch);
    }
    reason[0] = '\0';
    *wait_ms = 0;
    bool exhausted = a->remaining == 0 && a->reset_s >= 0;
    if (a->status == 200 || a->status == 304) {
        r->secondary = r->transient = 0;
        if (exhausted) {
            *wait_ms = until_reset_ms(a, now_s);
            snprintf(reason, reason_len, "primary rate limit: waiting for its reset");
        }
        return GH_GO;
    }
    if ((a->status == 403 || a->status == 429) && exhausted && a->retry_after_s < 0) {
        /* The primary limit: not a failure, the window ends at reset. */
        *wait_ms = until_reset_ms(a, now_s);
        snprintf(reason, reason_len, "primary rate limit: waiting for its reset");
        return GH_RETRY;
    }
    if (a->status == 403 || a->status == 429) {
        if (++r->secondary > GH_MAX_SECONDARY) {
            snprintf(reason, reason_len, "secondary rate limit %d times in a row", GH_MAX_SECONDARY);
            return GH_GIVE_UP;
        }
        if (a->retry_after_s >= 0) {
            *wait_ms = (uint64_t)(a->retry_after_s > 0 ? a->retry_after_s : 1) * 1000;
        } else {
            /* Without retry-after GitHub asks for at least a minute, longer
             * each time it goes on. */
            *wait_ms = 60000ull << (r->secondary - 1 < 5 ? r->secondary - 1 : 5);
        }
        snprintf(reason, reason_len, "secondary rate limit: waiting");
        return GH_RETRY;
    }
    if (a->status == 0 || a->status >= 500) {
        r->transient++;
        if (!backoff_may_attempt(&BACKOFF_GITHUB, r->transient + 1)) {
            snprintf(reason, reason_len, "%s %d times in a row",
                     a->status == 0 ? "no answer (network)" : "server errors", r->transient);
            return GH_GIVE_UP;
        }
        *wait_ms = backoff_delay_ms(&BACKOFF_GITHUB, r->transient, rng);
        snprintf(reason, reason_len, "%s: retrying", a->status == 0 ? "no answer" : "server error");
        return GH_RETRY;
    }
    /* 401, 404, 410, 422...: asking again will not change the answer. */
    if (a->status == 401)
        snprintf(reason, reason_len, "GitHub refused the token (401)");
    else if (a->status == 404)
        snprintf(reason, reason_len, "no such repository, or the token may not read it (404)");
    else
        snprintf(reason, reason_len, "GitHub answered %ld", a->status);
    return GH_GIVE_UP;
}
