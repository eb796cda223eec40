/*
 * llm_transport.h -- the LLM actor's wire: chat-completions requests (the
 * URL, headers and body made here) sent with http_fetch.h, driven by the
 * runtime: the actor hands each RT_MSG_IO to llm_transport_io, and every
 * finished exchange is reported to the done callback. Used by the LLM
 * actor's thread only.
 */
#ifndef DISPATCHD_LLM_TRANSPORT_H
#define DISPATCHD_LLM_TRANSPORT_H

#include <stdbool.h>

#include "config.h"
#include "event.h"
#include "http_fetch.h"
#include "runtime.h"
#include "strbuf.h"

typedef struct llm_transport llm_transport_t;
typedef http_exchange_t llm_exchange_t;
typedef http_result_t llm_result_t;
typedef http_done_fn llm_done_fn;

llm_transport_t *llm_transport_new(rt_actor_t *self, const config_t *cfg, llm_done_fn done, void *ctx);
/* Ends every exchange still running without calling done. */
void llm_transport_free(llm_transport_t *t);

/* Starts a request with this body (kept by the caller until done); the
 * answer accumulates in *response (reset here). */
llm_exchange_t *llm_transport_start(llm_transport_t *t, const char *body, strbuf_t *response, void *call);
/* Ends a running exchange without calling done. */
void llm_transport_abandon(llm_transport_t *t, llm_exchange_t *x);
/* An RT_MSG_IO of the transport's (false: not its). */
bool llm_transport_io(llm_transport_t *t, const rt_io_msg_t *io);

/* The request body for an issue: the system prompt, the issue (title,
 * labels, the body cut to [openai] body_chars); with `bad`, the model's
 * invalid answer and what was wrong with it, for one repair. */
char *llm_request_json(const config_t *cfg, const issue_event_t *e, const char *bad, const char *why);

#endif
