/*
 * server.h -- the h2o control plane: one event-loop thread serving JSON,
 * Prometheus text and the status page. Handlers never block: what needs a
 * slow check (readiness) is refreshed by a background thread.
 */
#ifndef DISPATCHD_HTTP_SERVER_H
#define DISPATCHD_HTTP_SERVER_H

#include <stddef.h>

#include "pipeline.h"
struct config;

typedef struct http_server http_server_t;

/* The view is copied. */
http_server_t *http_start(const struct config *cfg, const pipeline_view_t *pl, char *err, size_t errlen);
/* The port actually bound (for addr ":0"). */
int http_port(const http_server_t *s);
void http_stop(http_server_t *s);

/* A connection upgraded to a WebSocket leaves the HTTP connection count
 * (ws_server.c counts it against its own caps). Loop thread. */
struct st_h2o_socket_t;
void http_conn_forget(struct st_h2o_socket_t *sock);

#endif
