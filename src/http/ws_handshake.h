/*
 * ws_handshake.h -- GET /ws before the upgrade: who is calling (the admin
 * token, or a user JWT whose `repos` claim says what it may see), whether a
 * browser's Origin may open a socket, and the ?repo= filters. Answers the
 * request itself (401, 403, 400) when any of them fails.
 */
#ifndef DISPATCHD_WS_HANDSHAKE_H
#define DISPATCHD_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "routes.h"
#include "ws_access.h"

/* route: the table's template (the metric label). true: *access (ws_access_free() after) and *exp_s (the token's exp, 0
 * for the admin token) are the caller's; false: answered, *rc is the
 * handler's return, nothing to free. */
bool ws_handshake_check(http_app_t *app, h2o_req_t *req, const char *route, ws_access_t *access, int64_t *exp_s,
                        int *rc);
/* Sec-WebSocket-Accept for a client's 24-character key. */
void ws_handshake_accept_key(const char *client_key, char out[29]);

#endif
