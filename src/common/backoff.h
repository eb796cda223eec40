/*
 * backoff.h -- the one retry policy: how long to wait before each retry,
 * and when to stop. Every retry in dispatchd (storage reconnects, produce
 * retries, LLM requests, the commit on revoke, reading applied offsets)
 * names one of the policies below, so their values are read in one place.
 */
#ifndef DISPATCHD_BACKOFF_H
#define DISPATCHD_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

typedef struct backoff_policy {
    uint32_t initial_ms;          /* the first retry's delay */
    uint32_t cap_ms;              /* no delay is longer */
    uint32_t multiplier;          /* each retry waits this many times longer (1: constant) */
    bool jitter;                  /* wait a random half to all of the delay, so retries spread */
    int max_attempts;             /* attempts in all, the first included; 0: no limit */
} backoff_policy_t;

/* Storage: a lost database connection, reconnecting ([database]
 * retry_max_ms sets the cap). */
extern const backoff_policy_t BACKOFF_STORAGE;
/* Publisher: a produce that failed for a reason that may pass. */
extern const backoff_policy_t BACKOFF_PUBLISH;
/* LLM: a timeout, 5xx or 429 (Retry-After, when longer, wins); [openai]
 * retry_initial_ms and retry_max_ms set its delays, max_retries + 1 its
 * attempts. */
extern const backoff_policy_t BACKOFF_LLM;
/* The commit a revoked partition hands over, through a coordinator moving. */
extern const backoff_policy_t BACKOFF_REVOKE_COMMIT;
/* The broadcaster's LISTEN connection for sync changes, lost. */
extern const backoff_policy_t BACKOFF_SYNC_LISTEN;
/* A sync's GitHub request that got a 5xx or no answer (rate limits have
 * their own rules: gh_rules.h). */
extern const backoff_policy_t BACKOFF_GITHUB;
/* The retry path (issues.raw.retry): a record whose transient failures
 * outlasted the in-process retries waits this long before each attempt
 * there; [retry] attempts, initial_ms and max_ms set its values. */
extern const backoff_policy_t BACKOFF_RETRY_PATH;
/* Reading applied offsets on assignment. */
extern const backoff_policy_t BACKOFF_APPLIED_READ;

/* A policy with an operator's values: base's shape (multiplier, jitter,
 * attempts) with initial_ms and cap_ms from the configuration (0: base's). */
backoff_policy_t backoff_configured(const backoff_policy_t *base, int initial_ms, int cap_ms);

/* The delay before retry number `retry` (1 = the first retry). rng is the
 * caller's xorshift state, needed only by a policy with jitter. */
uint64_t backoff_delay_ms(const backoff_policy_t *p, int retry, uint64_t *rng);
/* Whether attempt number `attempt` (1 = the first) may be made. */
bool backoff_may_attempt(const backoff_policy_t *p, int attempt);

#endif
