/*
 * llm_policy.c -- see llm_policy.h.
 */
#include "llm_policy.h"


llm_outcome_t llm_outcome_of(bool transport_ok, long status)
{
    if (!transport_ok || status == 408 || status == 429 || status >= 500)
        return LLM_RETRY;
    if (status == 200)
        return LLM_ANSWERED;
    return LLM_REFUSED;
}

bool llm_outcome_failed(bool transport_ok, long status)
{
    return !transport_ok || status == 408 || status >= 500;
}

uint64_t llm_retry_delay_ms(const backoff_policy_t *policy, int attempt, long retry_after_s, uint64_t *rng)
{
    uint64_t ms = backoff_delay_ms(policy, attempt, rng);
    if (retry_after_s > 0 && (uint64_t)retry_after_s * 1000 > ms)
        ms = (uint64_t)retry_after_s * 1000;
    return ms;
}

void breaker_init(breaker_t *b, int threshold, uint64_t open_ms)
{
    *b = (breaker_t){.threshold = threshold > 0 ? threshold : 1, .open_ms = open_ms, .state = BREAKER_CLOSED};
}

int breaker_allow(breaker_t *b, uint64_t now_ms)
{
    if (b->state == BREAKER_OPEN && now_ms >= b->open_until_ms) {
        b->state = BREAKER_HALF_OPEN;
        b->probing = false;
    }
    if (b->state == BREAKER_CLOSED)
        return -1;
    if (b->state == BREAKER_HALF_OPEN && !b->probing)
        return 1;
    return 0;
}

void breaker_started(breaker_t *b)
{
    if (b->state == BREAKER_HALF_OPEN)
        b->probing = true;
}

bool breaker_record(breaker_t *b, bool failed, uint64_t now_ms)
{
    breaker_state_t before = b->state;
    if (b->state == BREAKER_HALF_OPEN)
        b->probing = false;
    if (!failed) {
        b->failures = 0;
        b->state = BREAKER_CLOSED;
        return before != b->state;
    }
    b->failures++;
    if (b->state == BREAKER_HALF_OPEN || (b->state == BREAKER_CLOSED && b->failures >= b->threshold)) {
        b->open_until_ms = now_ms + b->open_ms;
        b->state = BREAKER_OPEN;
    }
    return before != b->state;
}

double llm_window_answered(double window, int max)
{
    return window < max ? window + 1 : window;
}

double llm_window_limited(double window)
{
    return window / 2 >= 1 ? window / 2 : 1;
}
