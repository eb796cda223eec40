/*
 * status_stream.h -- GET /api/status/stream: GET /api/status's document
 * pushed as server-sent events (text/event-stream) each time the snapshot
 * changes, for the status page's live view. However many viewers, the
 * loop looks at the consistency actor's newest document (latest.h) four
 * times a second while any is connected and makes one event of each new
 * one; a viewer that reads slowly gets the newest when it catches up,
 * never a queue. At most half of [http] max_connections are streams, so
 * the control plane keeps room for everything else. Loop thread only.
 */
#ifndef DISPATCHD_STATUS_STREAM_H
#define DISPATCHD_STATUS_STREAM_H

#include "routes.h"

typedef struct status_stream status_stream_t;

status_stream_t *status_stream_new(http_app_t *app, h2o_loop_t *loop);
/* Shutdown: each stream is ended (its last write completes first). */
void status_stream_close_all(status_stream_t *ss);
void status_stream_free(status_stream_t *ss);

#endif
