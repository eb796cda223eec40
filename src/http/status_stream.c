/*
 * status_stream.c -- GET /api/status/stream (see status_stream.h).
 */
#include "status_stream.h"

#include <stdlib.h>
#include <string.h>

#include "latest.h"
#include "metrics.h"

#define LOOK_EVERY_MS 250          /* the snapshot changes about once a second */
#define RETRY_MS 2000              /* how soon a browser reconnects (the stream's `retry:`) */

/* One event's bytes; shared by the streams writing it. */
typedef struct doc {
    int refs;
    size_t len;
    char text[];
} doc_t;

typedef struct stream {
    h2o_generator_t gen;
    h2o_linklist_t link;          /* status_stream.streams */
    h2o_req_t *req;
    doc_t *sending;               /* written, until h2o asks for more */
    doc_t *next;                  /* the newest not yet written */
    bool ending;                  /* the final write is due */
} stream_t;

struct status_stream {
    http_app_t *app;
    h2o_loop_t *loop;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    h2o_linklist_t streams;
    uint64_t version;             /* of the newest document seen ... */
    doc_t *last;                  /* ... as an event */
};

static void doc_release(doc_t *d)
{
    if (d != NULL && --d->refs == 0)
        free(d);
}

static doc_t *doc_new(const char *head, const char *body, const char *tail)
{
    size_t h = strlen(head), b = strlen(body), t = strlen(tail);
    doc_t *d = malloc(sizeof(*d) + h + b + t + 1);
    if (d == NULL)
        abort();
    d->refs = 1;
    d->len = h + b + t;
    memcpy(d->text, head, h);
    memcpy(d->text + h, body, b);
    memcpy(d->text + h + b, tail, t + 1);
    return d;
}

/* Writes the newest document if nothing is being written; ends the
 * stream when that is due and nothing is left. */
static void stream_write(stream_t *s)
{
    if (s->sending != NULL)
        return;
    if (s->next != NULL) {
        s->sending = s->next;
        s->next = NULL;
        h2o_iovec_t buf = h2o_iovec_init(s->sending->text, s->sending->len);
        h2o_send(s->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
    } else if (s->ending) {
        s->ending = false;
        h2o_send(s->req, NULL, 0, H2O_SEND_STATE_FINAL);
    }
}

/* A slow reader skips to the newest: what waits is replaced, not queued. */
static void stream_offer(stream_t *s, doc_t *d)
{
    doc_release(s->next);
    d->refs++;
    s->next = d;
    stream_write(s);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, gen, gen);
    doc_release(s->sending);
    s->sending = NULL;
    stream_write(s);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)gen;
    (void)req;
}

/* The request's pool is going: so is the stream. */
static void stream_disposed(void *p)
{
    stream_t *s = *(stream_t **)p;
    if (h2o_linklist_is_linked(&s->link))
        h2o_linklist_unlink(&s->link);
    doc_release(s->sending);
    doc_release(s->next);
    free(s);
}

/* A newer document is pushed to every stream. */
static void look(status_stream_t *ss)
{
    latest_t *l = ss->app->pl != NULL ? ss->app->pl->status_doc : NULL;
    if (l == NULL || latest_version(l) == ss->version)
        return;
    latest_doc_t *d = latest_get(l);
    ss->version = d->version;
    doc_release(ss->last);
    ss->last = doc_new("event: status\ndata: ", d->text, "\n\n");
    latest_release(d);
    for (h2o_linklist_t *l2 = ss->streams.next; l2 != &ss->streams; l2 = l2->next)
        stream_offer(H2O_STRUCT_FROM_MEMBER(stream_t, link, l2), ss->last);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    status_stream_t *ss = H2O_STRUCT_FROM_MEMBER(status_stream_t, tick_entry, entry);
    if (!h2o_linklist_is_empty(&ss->streams))
        look(ss);
    h2o_timeout_link(ss->loop, &ss->tick, &ss->tick_entry);
}

int route_status_stream(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    status_stream_t *ss = app->status_stream;
    if (ss == NULL || app->pl == NULL || app->pl->status_doc == NULL)
        return http_respond_error(req, rc->route, 503, "unavailable", "no pipeline in this process");
    int n = 0;
    for (h2o_linklist_t *l = ss->streams.next; l != &ss->streams; l = l->next)
        n++;
    if (n >= app->cfg->http_max_connections / 2)
        return http_respond_error(req, rc->route, 503, "too_many_viewers",
                                  "half of [http] max_connections are status streams; poll GET /api/status");
    stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->req = req;
    s->gen.proceed = on_proceed;
    s->gen.stop = on_stop;
    stream_t **guard = h2o_mem_alloc_shared(&req->pool, sizeof(*guard), stream_disposed);
    *guard = s;
    look(ss);   /* before this stream is listed: it is handed the newest below */
    h2o_linklist_insert(&ss->streams, &s->link);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    metrics_http_request(rc->route, 200);
    h2o_start_response(req, &s->gen);
    /* The reconnection delay at once (the headers with it); then the
     * newest document, and each next one. */
    if (ss->last != NULL) {
        ss->last->refs++;
        s->next = ss->last;
    }
    s->sending = doc_new("retry: ", H2O_TO_STR(RETRY_MS), "\n\n");
    h2o_iovec_t buf = h2o_iovec_init(s->sending->text, s->sending->len);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
    return 0;
}

status_stream_t *status_stream_new(http_app_t *app, h2o_loop_t *loop)
{
    status_stream_t *ss = calloc(1, sizeof(*ss));
    if (ss == NULL)
        abort();
    ss->app = app;
    ss->loop = loop;
    h2o_linklist_init_anchor(&ss->streams);
    h2o_timeout_init(loop, &ss->tick, LOOK_EVERY_MS);
    ss->tick_entry.cb = on_tick;
    h2o_timeout_link(loop, &ss->tick, &ss->tick_entry);
    return ss;
}

void status_stream_close_all(status_stream_t *ss)
{
    h2o_linklist_t *next;
    for (h2o_linklist_t *l = ss->streams.next; l != &ss->streams; l = next) {
        next = l->next;
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, link, l);
        h2o_linklist_unlink(&s->link);
        doc_release(s->next);
        s->next = NULL;
        s->ending = true;
        stream_write(s);
    }
}

void status_stream_free(status_stream_t *ss)
{
    if (ss == NULL)
        return;
    while (!h2o_linklist_is_empty(&ss->streams))
        h2o_linklist_unlink(ss->streams.next);
    h2o_timeout_unlink(&ss->tick_entry);
    h2o_timeout_dispose(ss->loop, &ss->tick);
    doc_release(ss->last);
    free(ss);
}
