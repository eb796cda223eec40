/* routes.h -- the control plane's paths (CONTRACT section 5). */
#ifndef DISPATCHD_HTTP_ROUTES_H
#define DISPATCHD_HTTP_ROUTES_H

#define H2O_USE_LIBUV 0
#include <h2o.h>

struct config;
struct pipeline;

typedef struct http_app {
    const struct config *cfg;
    struct pipeline *p;
    int kafka_ok;      /* refreshed by routes_refresh_health (atomic) */
    int db_ok;
    h2o_multithread_queue_t *queue;      /* answers computed off the loop */
    h2o_multithread_receiver_t receiver;
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

/* admin_routes.c: answers an admin path, or returns -1 for other paths */
int admin_route(http_app_t *app, h2o_req_t *req);

/* user_routes.c: answers a /repos/ path, or returns -1 for other paths */
int user_route(http_app_t *app, h2o_req_t *req);

/* webhook.c */
int webhook_github(http_app_t *app, h2o_req_t *req);

void routes_init(http_app_t *app, h2o_loop_t *loop);
void routes_free(http_app_t *app);
int routes_dispatch(http_app_t *app, h2o_req_t *req);
/* Blocking checks of Kafka and PostgreSQL; called off the event loop. */
void routes_refresh_health(http_app_t *app);

#endif
