/*
 * ws_server.h -- GET /ws on the control plane's event loop: the upgrade
 * (token, Origin and connection caps checked before it), the sockets (wslay
 * frames them; our own glue buffers the writes), and the fan-out of what
 * the broadcaster publishes on the feed to every socket allowed to see it.
 * Everything here runs on the loop thread.
 */
#ifndef DISPATCHD_WS_SERVER_H
#define DISPATCHD_WS_SERVER_H

#include "routes.h"
#include "ws_feed.h"

typedef struct ws_server ws_server_t;

/* feed NULL: no pipeline behind this server (/ws answers 503). */
ws_server_t *ws_server_new(http_app_t *app, h2o_loop_t *loop, ws_feed_t *feed);
/* Shutdown: every socket is closed with 1001; the loop is run (by the
 * caller's thread, the loop's own having stopped) until they are gone or
 * timeout_ms passed, then the rest are cut. */
void ws_server_close_all(ws_server_t *w, int timeout_ms);
void ws_server_free(ws_server_t *w);

#endif
