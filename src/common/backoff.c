#include "backoff.h"

#include <stddef.h>

const backoff_policy_t BACKOFF_STORAGE = {.initial_ms = 100, .cap_ms = 10000, .multiplier = 2};
const backoff_policy_t BACKOFF_PUBLISH = {.initial_ms = 100, .cap_ms = 10000, .multiplier = 2};
const backoff_policy_t BACKOFF_LLM = {.initial_ms = 500, .cap_ms = 30000, .multiplier = 2, .jitter = true};
const backoff_policy_t BACKOFF_REVOKE_COMMIT = {.initial_ms = 200, .cap_ms = 200, .multiplier = 1, .max_attempts = 5};
const backoff_policy_t BACKOFF_SYNC_LISTEN = {.initial_ms = 500, .cap_ms = 10000, .multiplier = 2, .jitter = true};
const backoff_policy_t BACKOFF_GITHUB = {.initial_ms = 1000, .cap_ms = 60000, .multiplier = 2, .jitter = true,
                                        .max_attempts = 8};
const backoff_policy_t BACKOFF_RETRY_PATH = {.initial_ms = 30000, .cap_ms = 600000, .multiplier = 2, .jitter = true,
                                            .max_attempts = 8};
const backoff_policy_t BACKOFF_APPLIED_READ = {.initial_ms = 0, .cap_ms = 0, .multiplier = 1, .max_attempts = 2};

backoff_policy_t backoff_configured(const backoff_policy_t *base, int initial_ms, int cap_ms)
{
    backoff_policy_t p = *base;
    if (initial_ms > 0)
        p.initial_ms = (uint32_t)initial_ms;
    if (cap_ms > 0)
        p.cap_ms = (uint32_t)cap_ms;
    if (p.cap_ms < p.initial_ms)
        p.cap_ms = p.initial_ms;
    return p;
}

uint64_t backoff_delay_ms(const backoff_policy_t *p, int retry, uint64_t *rng)
{
    uint64_t ms = p->initial_ms;
    for (int i = 1; i < retry && ms < p->cap_ms && p->multiplier > 1; i++)
        ms *= p->multiplier;
    if (ms > p->cap_ms)
        ms = p->cap_ms;
    if (p->jitter && rng != NULL && ms > 0) {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        ms = ms / 2 + *rng % (ms / 2 + 1);
    }
    return ms;
}

bool backoff_may_attempt(const backoff_policy_t *p, int attempt)
{
    return p->max_attempts <= 0 || attempt <= p->max_attempts;
}
