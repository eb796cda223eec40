/*
 * llm_transport.h -- the LLM actor's wire: chat-completions requests over
 * libcurl's multi interface, driven by the runtime. curl's sockets and its
 * one timer (a timerfd) are watched by the actor (rt_watch_fd); the actor
 * hands each RT_MSG_IO to llm_transport_io, which lets curl work on that
 * socket only and reports every finished exchange to the done callback.
 * Used by the LLM actor's thread only.
 */
#ifndef DISPATCHD_LLM_TRANSPORT_H
#define DISPATCHD_LLM_TRANSPORT_H

#include <stdbool.h>

#include "config.h"
#include "event.h"
#include "runtime.h"
#include "strbuf.h"

typedef struct llm_transport llm_transport_t;
typedef struct llm_exchange llm_exchange_t;

typedef struct llm_result {
    bool transport_ok;            /* an HTTP answer came (status is its code) */
    bool timed_out;
    long status;
    long retry_after_s;           /* Retry-After, 0 when absent */
    char error[256];              /* the transport's error when !transport_ok */
} llm_result_t;

/* Called for each finished exchange with the `call` given to start. The
 * exchange is gone by then; the answer is in the response buffer. */
typedef void (*llm_done_fn)(void *ctx, void *call, const llm_result_t *res);

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
