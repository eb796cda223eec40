/*
 * gh_rules.h -- how a sync talks to the GitHub REST API, as GitHub
 * documents it, without the talking: where the next page is (the `Link`
 * header's rel="next", never a URL made by hand), and when the next
 * request may go given the last answer (the primary limit's
 * x-ratelimit-remaining/-reset, a secondary limit's retry-after or its
 * doubling wait from 60 s, 5xx and network errors with BACKOFF_GITHUB),
 * and when to give up. Pure: tested on its own (tests/unit/test_gh_rules.c).
 */
#ifndef DISPATCHD_GH_RULES_H
#define DISPATCHD_GH_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The URL of `rel` ("next", "last") in a Link header value into url;
 * false when the header has none (or it does not fit). */
bool gh_link(const char *link, const char *rel, char *url, size_t cap);

/* What an answer said that decides the next request. -1: header absent. */
typedef struct gh_answer {
    long status;                  /* HTTP status; 0: no answer (network error, timeout) */
    long remaining;               /* x-ratelimit-remaining */
    int64_t reset_s;              /* x-ratelimit-reset, Unix seconds */
    long retry_after_s;           /* retry-after */
} gh_answer_t;

/* Reads one header line into a (x-ratelimit-remaining, x-ratelimit-reset,
 * retry-after; any case); other lines are ignored. */
void gh_answer_header(gh_answer_t *a, const char *line, size_t len);
/* The value of header line "Name: value" (any case, trimmed; vlen set),
 * or NULL when the line is another header. */
const char *gh_header_value(const char *line, size_t len, const char *name, size_t *vlen);
void gh_answer_init(gh_answer_t *a);

typedef enum {
    GH_GO,                        /* the answer is usable (200, 304) */
    GH_RETRY,                     /* ask again after wait_ms */
    GH_GIVE_UP,                   /* the sync fails: reason says why */
} gh_verdict_t;

/* The retry state of one sync: consecutive failures of each kind. */
typedef struct gh_retry {
    int secondary;                /* secondary limits in a row */
    int transient;                /* 5xx / network errors in a row */
} gh_retry_t;

#define GH_MAX_SECONDARY 6        /* secondary limits in a row before giving up */

/* The verdict on an answer at now_s; *wait_ms is how long nothing may be
 * sent (also after GH_GO: 0, or until the primary limit's reset + 1 s when
 * the answer spent the last request). reason (for GH_GIVE_UP, and for
 * GH_RETRY what is awaited) is written when not NULL. */
gh_verdict_t gh_judge(const gh_answer_t *a, int64_t now_s, gh_retry_t *r, uint64_t *rng, uint64_t *wait_ms,
                      char *reason, size_t reason_len);

#endif
