/*
 * llm_quota.h -- the consumer group's LLM quotas, kept in PostgreSQL so
 * that every process of the group draws on the same ones:
 *
 *  - rate buckets (dispatchai.llm_rate_buckets): token buckets refilled
 *    with the database's clock, from which each process leases small
 *    slices (llm.c explains why any minute stays under the limit); one for
 *    requests, one for model tokens. A 429 pauses a bucket for the whole
 *    group until its Retry-After.
 *  - daily budgets (dispatchai.llm_budget_usage): LLM classifications per
 *    UTC day, for the group and per user, granted atomically: the global
 *    row is always locked first, then the user's, so concurrent grants
 *    neither deadlock nor overshoot.
 */
#ifndef DISPATCHD_LLM_QUOTA_H
#define DISPATCHD_LLM_QUOTA_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Leases from bucket `name` (made full, at `capacity`, if new): first
 * settles `settle` (estimates corrected: > 0 takes more, < 0 gives back),
 * then, unless the bucket is paused or holds less than `least`, takes up
 * to `want` whole units. *granted receives what was taken, *pause_ms how
 * long the bucket stays paused (0 if not). 0, or -1 with err. */
int quota_bucket_lease(PGconn *c, const char *name, double capacity, double rate_per_s, double least, double want,
                       double settle, double *granted, long *pause_ms, char *err, size_t errlen);
/* Pauses bucket `name` for the whole group for ms from now (never
 * shortening a longer pause). */
int quota_bucket_pause(PGconn *c, const char *name, long ms, char *err, size_t errlen);

/* Grants up to n classifications of today's (UTC) budget: the group's
 * (global_limit) and, when user is not empty, the user's (user_limit; < 0:
 * none, the use is still counted). *granted receives how many, *used the
 * group's use today after the grant. 0, or -1 with err. */
int quota_budget_take(PGconn *c, const char *user, int n, long global_limit, long user_limit, int *granted,
                      long *used, char *err, size_t errlen);
/* Of n issue versions (github ids[i], updated_at versions[i]), which
 * already have a classification of that version or a newer one:
 * known[i]. 0, or -1 with err. */
int quota_known_versions(PGconn *c, const long long *ids, const char *const *versions, int n, bool *known, char *err,
                         size_t errlen);
/* The group's classifications today (UTC). */
int quota_budget_used(PGconn *c, long *used, char *err, size_t errlen);

#endif
