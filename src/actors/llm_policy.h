/*
 * llm_policy.h -- the LLM actor's decisions, without I/O: what an answer
 * means (use it, retry it, refuse the record), the circuit breaker, and the
 * window of requests in flight. Pure state machines, so they are tested
 * one step at a time (tests/unit/test_llm_policy.c).
 */
#ifndef DISPATCHD_LLM_POLICY_H
#define DISPATCHD_LLM_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"

/* What one finished request means for its record. */
typedef enum {
    LLM_ANSWERED,        /* 200: validate the answer */
    LLM_RETRY,           /* transport error, timeout, 408, 429, 5xx: retry later */
    LLM_REFUSED,         /* another 4xx: the record goes to the DLQ as permanent */
} llm_outcome_t;

/* transport_ok: the HTTP exchange completed (then status is its code). */
llm_outcome_t llm_outcome_of(bool transport_ok, long status);
/* Whether the outcome counts against the breaker: the endpoint failed (no
 * answer, 408, 5xx). A 429 is the limit speaking, not a failure. */
bool llm_outcome_failed(bool transport_ok, long status);

/* The delay before retry number `attempt` (1: the first retry): the LLM
 * retry policy's (backoff.h), or Retry-After when that is longer. */
uint64_t llm_retry_delay_ms(const backoff_policy_t *policy, int attempt, long retry_after_s, uint64_t *rng);

typedef enum { BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN } breaker_state_t;

/* Opens after `threshold` consecutive failures; stays open for open_ms;
 * then lets one probe through (half-open): its success closes the breaker,
 * its failure opens it again. */
typedef struct breaker {
    int threshold;
    uint64_t open_ms;
    int failures;                 /* consecutive */
    breaker_state_t state;
    uint64_t open_until_ms;
    bool probing;                 /* half-open: the one probe is out */
} breaker_t;

void breaker_init(breaker_t *b, int threshold, uint64_t open_ms);
/* Moves open to half-open once the open time is over; then how many
 * requests may start now: -1 any, 1 the probe, 0 none. */
int breaker_allow(breaker_t *b, uint64_t now_ms);
/* A request started (in half-open: the probe is out). */
void breaker_started(breaker_t *b);
/* A request finished; failed per llm_outcome_failed. Returns whether the
 * state changed. */
bool breaker_record(breaker_t *b, bool failed, uint64_t now_ms);

/* The window of requests in flight: grows by one per answer up to max,
 * halves (not below one) at a 429 the gate counts as new. */
double llm_window_answered(double window, int max);
double llm_window_limited(double window);

#endif
