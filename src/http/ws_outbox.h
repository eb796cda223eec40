/*
 * ws_outbox.h -- what /ws sends, encoded once and shared by every socket it
 * goes to, and each socket's bounded queue of it.
 *
 * A message is {"seq":N,"type":...,"timestamp":...,"data":{...}}, where
 * seq counts per connection (a client sees any gap). Everything after the
 * seq is the same for every client, so it is encoded once (ws_msg_t,
 * reference-counted) and each connection writes only its own prefix
 * `{"seq":N,` before the shared bytes. A connection's queue is bounded in
 * bytes: a client that falls that far behind is closed as a slow consumer
 * rather than slowing anyone else or losing messages silently.
 * Pure (no sockets), tested on its own (tests/unit/test_ws_outbox.c).
 */
#ifndef DISPATCHD_WS_OUTBOX_H
#define DISPATCHD_WS_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

typedef struct ws_msg {
    int refs;                     /* atomic: one per queue holding it, plus the maker's */
    const char *type;             /* a string constant: issue_update, sync_progress, ... */
    int kind;                     /* its enum ws_type (metrics.h), for the sent counters */
    size_t len;
    char tail[];                  /* "type":...,"data":{...}} -- without the seq prefix */
} ws_msg_t;

/* Encodes a message once; data_json is a JSON object's text, timestamp an
 * ISO 8601 string. The caller holds one reference. */
ws_msg_t *ws_msg_new(const char *type, const char *timestamp, const char *data_json);
void ws_msg_ref(ws_msg_t *m);
void ws_msg_unref(ws_msg_t *m);

typedef struct ws_outbox {
    ring_t queue;                 /* ws_msg_t, oldest first */
    size_t bytes;                 /* queued, the frame being written included */
    size_t bound;                 /* more than this queued: a slow consumer */
    uint64_t head_seq;            /* the seq of the oldest queued */
} ws_outbox_t;

void ws_outbox_init(ws_outbox_t *o, size_t bound);
/* Drops what is queued. */
void ws_outbox_free(ws_outbox_t *o);
/* Queues m (taking a reference). false: it would pass the bound -- nothing
 * queued, the caller closes the connection as a slow consumer. */
bool ws_outbox_push(ws_outbox_t *o, ws_msg_t *m);
/* The oldest queued message's full text into buf (prefix and shared tail);
 * returns its length, 0 when empty, or the size needed when larger than
 * cap (nothing written then). */
size_t ws_outbox_peek(const ws_outbox_t *o, char *buf, size_t cap);
#define WS_FRAME_HEAD_MAX 40     /* a frame header (10 bytes at most) and {"seq":N, */
/* Takes the oldest message out to be written as one unmasked WebSocket
 * text frame (RFC 6455 5.2: FIN, opcode 1, the 7/16/64-bit length): the
 * frame header and the seq prefix go into head (WS_FRAME_HEAD_MAX bytes),
 * the message to *m with the outbox's reference -- its shared tail follows
 * head on the wire, written from where it is, and the caller unrefs it once
 * written. Returns head's length, 0 when the queue is empty. */
size_t ws_outbox_take(ws_outbox_t *o, char *head, ws_msg_t **m);

static inline size_t ws_outbox_len(const ws_outbox_t *o) { return ring_len(&o->queue); }

#endif
