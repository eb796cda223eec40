/*
 * http_fetch.h -- HTTP requests for a dedicated actor, over libcurl's
 * multi interface, driven by the runtime: curl's sockets and its one timer
 * (a timerfd) are watched by the actor (rt_watch_fd), which hands each
 * RT_MSG_IO to http_fetch_io; every finished exchange is reported to the
 * done callback on the actor's thread. Nothing here waits. Used by the LLM
 * actor's wire (llm_transport.c); one actor's thread only.
 */
#ifndef DISPATCHD_HTTP_FETCH_H
#define DISPATCHD_HTTP_FETCH_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "runtime.h"
#include "strbuf.h"

typedef struct http_fetch http_fetch_t;
typedef struct http_exchange http_exchange_t;

typedef struct http_result {
    bool transport_ok;            /* an HTTP answer came (status is its code) */
    bool timed_out;
    long status;
    long retry_after_s;           /* Retry-After, 0 when absent */
    char error[256];              /* the transport's error when !transport_ok */
} http_result_t;

/* Called for each finished exchange with the request's `call`; the
 * exchange is gone by then, the body is in the request's response. */
typedef void (*http_done_fn)(void *ctx, void *call, const http_result_t *res);

typedef struct http_request {
    const char *url;
    struct curl_slist *headers;   /* kept by the caller until done */
    const char *post_body;        /* kept by the caller until done; NULL: a GET */
    long timeout_ms;
    strbuf_t *response;           /* reset here; the body accumulates in it */
    /* Each header line of the answer (NULL: not wanted). */
    void (*on_header)(void *call, const char *line, size_t len);
    void *call;
} http_request_t;

/* Watches are tagged io_tag (curl's sockets) and io_tag + 1 (its timer):
 * the actor's other watches use other tags. */
http_fetch_t *http_fetch_new(rt_actor_t *self, uint64_t io_tag, long max_connections, http_done_fn done, void *ctx);
/* Ends every exchange still running without calling done. */
void http_fetch_free(http_fetch_t *f);
http_exchange_t *http_fetch_start(http_fetch_t *f, const http_request_t *req);
/* Ends a running exchange without calling done. */
void http_fetch_abandon(http_fetch_t *f, http_exchange_t *x);
/* An RT_MSG_IO of this fetcher's (false: not its). */
bool http_fetch_io(http_fetch_t *f, const rt_io_msg_t *io);

#endif
