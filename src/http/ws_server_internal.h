/*
 * ws_server_internal.h -- /ws's sockets and server, shared by its own files
 * only: ws_server.c (the route, the upgrade, reading and writing a socket,
 * the server's life) and ws_fanout.c (the feed to the sockets, slow
 * consumers, the tick). Nothing else includes it.
 */
#ifndef DISPATCHD_WS_SERVER_INTERNAL_H
#define DISPATCHD_WS_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <wslay/wslay.h>

#include "strbuf.h"
#include "strmap.h"
#include "ws_access.h"
#include "ws_feed.h"
#include "ws_outbox.h"
#include "ws_server.h"

#define TICK_MS 250
#define CLOSE_GRACE_MS 1000            /* a close sent and not answered: cut after this */
#define SLOW_CLOSE_GRACE_MS 5000       /* ... for a slow consumer, which may still read its close */
#define SOCKET_SNDBUF_BYTES 131072     /* the kernel's share of a socket's backlog (doubled by Linux),
                                          so a stalled client shows in the outbox, where it is bounded */
#define WRITE_HIGH_BYTES 131072        /* bytes of messages per write; more wait in the outbox */
#define WRITE_MAX_MESSAGES 256         /* messages per write (two iovecs each) */
#define STALL_CONFIRM_MS 500           /* past the bound, kernel buffer full this long: a slow consumer */
#define HARD_BOUND_FACTOR 4            /* an outbox past this many times ws_queue_bytes: closed, whatever the cause */
#define MAX_INBOUND_BYTES 4096         /* a larger client message: 1009 */

/* A write in flight: each message's frame head (made for this socket) and
 * its shared text are written from where they are, so the messages are
 * held until the write completes. One allocation per write. */
typedef struct flight {
    int n;
    ws_msg_t **msgs;
    char *heads;                       /* n x WS_FRAME_HEAD_MAX */
    h2o_iovec_t *iov;                  /* the control frames, then head and text per message */
} flight_t;

typedef struct ws_client {
    h2o_linklist_t link;               /* ws_server.clients, once upgraded */
    ws_server_t *w;
    h2o_socket_t *sock;                /* NULL until the upgrade completes */
    wslay_event_context_ptr ctx;
    ws_access_t access;
    ws_outbox_t out;
    strbuf_t wbuf;                     /* wslay's control frames for the next write */
    strbuf_t writing;                  /* ... those of the write in flight */
    struct flight *flight;             /* the messages of the write in flight */
    int64_t exp_s;                     /* the token's exp; 0: the admin token, none */
    uint64_t heard_ms;                 /* the last frame from the client */
    uint64_t ping_ms;                  /* the last ping sent; 0: none outstanding */
    uint64_t closing_ms;               /* we sent or queued a close: cut after the grace */
    int reason;                        /* enum ws_close_reason, once decided */
    bool behind;                       /* its outbox is past ws_queue_bytes (counted in ws_server.behind) */
    uint64_t stalled_ms;               /* past the bound with a full kernel buffer since */
} ws_client_t;

struct ws_server {
    http_app_t *app;
    h2o_loop_t *loop;
    ws_feed_t *feed;
    h2o_multithread_receiver_t receiver;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    h2o_linklist_t clients;            /* ws_client_t, upgraded */
    int nclients;                      /* upgraded and upgrading: the caps count both */
    strmap_t per_user;                 /* user -> open sockets (as intptr_t) */
    size_t bound;                      /* ws_queue_bytes */
    int behind;                        /* sockets whose outbox is past the bound */
    bool held;                         /* the feed is left waiting until none is */
};

/* ws_server.c */
/* Writes what is queued (wslay's frames, then the outbox) if no write is
 * in flight. May free c (a write error). */
void ws_client_flush(ws_client_t *c);
/* Queues a close (code, why) and drops the outbox; reason is counted. */
void ws_client_close(ws_client_t *c, uint16_t code, const char *why, int reason);
/* The socket is done with: freed now. A close we started keeps its reason. */
void ws_client_gone(ws_client_t *c, int reason);
void ws_client_behind(ws_client_t *c, bool behind);

/* ws_fanout.c */
/* The broadcaster published: take the feed unless a socket is behind. */
void ws_on_feed(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);
/* The feed, if it was held and no socket is behind any more. */
void ws_resume_feed(ws_server_t *w);
/* On the broadcaster's thread: wake the loop. */
void ws_wake_loop(void *arg);
void ws_on_tick(h2o_timeout_entry_t *entry);

#endif
