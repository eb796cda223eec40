/*
 * llm_gate.h -- what the group lets the LLM actor spend: the rate limits
 * (requests and tokens per minute), a 429's pause, and the daily budgets,
 * all shared through PostgreSQL (llm_quota.h). Used by the LLM actor's
 * thread only.
 */
#ifndef DISPATCHD_LLM_GATE_H
#define DISPATCHD_LLM_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct llm_gate llm_gate_t;

llm_gate_t *llm_gate_new(const config_t *cfg);
void llm_gate_free(llm_gate_t *g);
/* A reloaded configuration's limits (daily and per-user budgets, requests
 * and tokens per minute) from now on; the gate keeps `fresh` and frees it. */
void llm_gate_set_limits(llm_gate_t *g, config_t *fresh);

/* How many of the next n requests, estimated at est[i] tokens each, the
 * rate limits let start now (taken from the process's leases; give back
 * what is not started with llm_gate_refund). 0: none before *retry_ms. */
int llm_gate_admit(llm_gate_t *g, int n, const double *est, uint64_t now_ms, uint64_t *retry_ms);
void llm_gate_refund(llm_gate_t *g, int n, double tokens);
/* The tokens reckoned for a request of this many bytes, answer included. */
double llm_gate_estimate(size_t request_bytes);
/* An answered request used `used` tokens where `est` were reckoned. */
void llm_gate_answered(llm_gate_t *g, double est, double used);
/* A 429: no request from any process of the group for ms, and this
 * process's share of the rate halved. false: a pause already known (a
 * burst of 429s answering the requests of one moment), nothing changed. */
bool llm_gate_pause(llm_gate_t *g, long ms);

/* Of n calls' issue versions, which were classified before (a replay
 * after an offset reset, a duplicate delivery, an older version than the
 * stored one): known[i]. false: the database did not answer (all
 * unknown). */
bool llm_gate_known(llm_gate_t *g, const long long *ids, const char *const *versions, int n, bool *known);

/* Of n classifications for user ("" for events without one), how many
 * today's budgets grant (counted as spent from now). -1: the database did
 * not answer; ask again later. */
int llm_gate_budget(llm_gate_t *g, const char *user, int n);

#endif
