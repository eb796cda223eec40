/* routes.h -- the control plane's paths: the table is route_table.c, the
 * handlers live in the files named below. To add a path: write its handler
 * (a route_fn), declare it here and add one line to the table. */
#ifndef DISPATCHD_HTTP_ROUTES_H
#define DISPATCHD_HTTP_ROUTES_H

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "pipeline.h"

typedef struct http_app {
    const config_t *cfg;
    const pipeline_view_t *pl;          /* NULL: no pipeline behind this server */
    int kafka_ok;      /* refreshed by routes_refresh_health (atomic) */
    int db_ok;
    h2o_multithread_queue_t *queue;      /* answers computed off the loop */
    h2o_multithread_receiver_t receiver;
    struct ws_server *ws;                /* GET /ws (ws_server.h) */
    struct status_stream *status_stream; /* GET /api/status/stream (status_stream.h) */
} http_app_t;

/* Answering a request later, from any thread. http_pending_new() runs on the
 * loop (in a handler, which then returns 0 without responding);
 * http_pending_complete() may run anywhere, exactly once. If the client went
 * away meanwhile the answer is dropped. */
typedef struct http_pending http_pending_t;
http_pending_t *http_pending_new(http_app_t *app, h2o_req_t *req, const char *route);
void http_pending_complete(http_pending_t *pending, int status, const char *json);

/* Produces `value` (a malloc'd string, taken over) on the pipeline's
 * producer and answers the request once Kafka has it: ok_status/ok_json
 * (a string constant), or 503 with the broker's error. */
int http_produce_then_answer(http_app_t *app, h2o_req_t *req, const char *route, const char *topic,
                             const char *key, char *value, const char *correlation_id, int ok_status,
                             const char *ok_json);

/* Shared response helpers for route files. */
int http_respond(h2o_req_t *req, const char *route, int status, const char *ctype, const char *body, size_t len);
int http_respond_json(h2o_req_t *req, const char *route, int status, const char *json);
int http_respond_error(h2o_req_t *req, const char *route, int status, const char *error, const char *detail);

/* What a handler learns from the table: its template (the metric label),
 * the {name} segments in template order, and for user routes the caller. */
#define ROUTE_MAX_PARAMS 2
typedef struct route_params {
    h2o_iovec_t v[ROUTE_MAX_PARAMS];
    int n;
} route_params_t;

typedef struct route_ctx {
    const char *route;
    route_params_t params;
    char user[256];
} route_ctx_t;

/* The next ?name=value of the query from *pos (0 at first), %XX decoded
 * into out: 1; 0 when there is no more; -1 when malformed or too long. */
int http_query_next(h2o_req_t *req, const char *name, size_t *pos, char *out, size_t cap);
/* Every parameter in turn, whatever its name: 1 with both decoded, 0 at
 * the end, -1 when one is malformed or too long. */
int http_query_each(h2o_req_t *req, size_t *pos, char *name, size_t ncap, char *out, size_t cap);

typedef int (*route_fn)(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);

/* Callers: the admin token (admin_routes.c), a user token (user_routes.c).
 * false: answered already (401/403), *rc has the handler's return. */
bool http_admin_authorized(http_app_t *app, h2o_req_t *req, const char *route, int *rc);
bool http_user_of(http_app_t *app, h2o_req_t *req, const char *route, char *user, size_t ulen, int *rc);

/* routes.c */
int route_health(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int route_ready(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int route_metrics(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int route_consistency(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int route_status(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
/* status_stream.c */
int route_status_stream(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
/* status_page.c */
int route_page(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int route_static(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
/* webhook.c */
int webhook_github(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
/* admin_routes.c */
int admin_pause_processing(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_resume_processing(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_processing_status(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_budget_status(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_group_pause(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_group_resume(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_reset_offsets(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_group_lag(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_topic_stats(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
/* dlq_routes.c */
int admin_dlq_list(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_dlq_replay(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int admin_dlq_replay_job(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
/* ws_server.c */
int route_ws(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
/* user_routes.c */
int user_sync_status(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int user_sync_start(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);
int user_sync_cancel(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc);

void routes_init(http_app_t *app, h2o_loop_t *loop);
void routes_free(http_app_t *app);
/* route_table.c: answers any request. */
int routes_dispatch(http_app_t *app, h2o_req_t *req);
/* Blocking checks of Kafka and PostgreSQL; called off the event loop. */
void routes_refresh_health(http_app_t *app);

#endif
