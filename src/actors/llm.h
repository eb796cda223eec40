/*
 * llm.h -- the LLM actor: classifies records with an OpenAI-compatible
 * endpoint, many requests at once, within the group's limits and budgets,
 * behind a circuit breaker.
 */
#ifndef DISPATCHD_LLM_H
#define DISPATCHD_LLM_H

#include "actors.h"

enum llm_msg {
    MSG_LLM_CALL = RT_MSG_USER + 0x400, /* classifier: a record_t to classify */
    MSG_LIMITS,                         /* run (SIGHUP): limits_msg_t */
    MSG_LLM_PUMP,                       /* itself: start what may start now */
    /* also MSG_SYNC_CANCELLED (classifier.h), forwarded by the classifier */
};

/* A reloaded configuration, whose limits apply from now on; the actor keeps
 * cfg (heap). */
typedef struct limits_msg {
    rt_msg_t hdr;
    config_t *cfg;
} limits_msg_t;

rt_actor_t *llm_spawn(const actor_env_t *env);

#endif
