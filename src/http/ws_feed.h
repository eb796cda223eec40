/*
 * ws_feed.h -- the hand-off from the broadcaster actor to the control
 * plane's event loop, which owns the WebSocket connections: batches of
 * encoded messages, each with what decides who may see it. The actor
 * publishes from its thread; the loop is woken once per burst and takes
 * everything pending. Nothing else is shared: the loop reports only how
 * many clients are connected (so the broadcaster encodes nothing for no
 * one) and the broadcaster reads how much is pending (so it stops reading
 * Kafka, not loses messages, when the loop falls behind).
 */
#ifndef DISPATCHD_WS_FEED_H
#define DISPATCHD_WS_FEED_H

#include <stdbool.h>
#include <stddef.h>

#include "ws_access.h"
#include "ws_outbox.h"

typedef struct ws_event {
    ws_msg_t *msg;                    /* the batch holds one reference */
    bool sync;                        /* sync_*: to the sync's user only (and the admin) */
    char repo[WS_ACCESS_NAME_MAX];    /* owner/repo */
    char user[128];                   /* the sync's user, "" when none */
} ws_event_t;

typedef struct ws_batch {
    struct ws_batch *next;
    int n, cap;
    ws_event_t ev[];
} ws_batch_t;

ws_batch_t *ws_batch_new(int cap);
/* Gives back the messages' references. */
void ws_batch_free(ws_batch_t *b);

typedef struct ws_feed ws_feed_t;

ws_feed_t *ws_feed_new(void);
/* After both sides are done with it. */
void ws_feed_free(ws_feed_t *f);
/* Takes the batch over; with no listener it is dropped (no one connected). */
void ws_feed_publish(ws_feed_t *f, ws_batch_t *b);
/* The loop's side: wake(arg) runs on the publisher's thread when batches
 * become pending; NULL detaches (pending batches are dropped). */
void ws_feed_listen(ws_feed_t *f, void (*wake)(void *), void *arg);
/* Everything pending, oldest first (a chain through ->next), or NULL. */
ws_batch_t *ws_feed_take(ws_feed_t *f);
/* Batches published and not yet taken. */
int ws_feed_pending(ws_feed_t *f);
void ws_feed_set_clients(ws_feed_t *f, int n);
int ws_feed_clients(ws_feed_t *f);

#endif
