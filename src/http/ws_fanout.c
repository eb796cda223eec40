/*
 * ws_fanout.c -- /ws's side of the feed: the broadcaster's batches fanned
 * out to the sockets that may see each event, the rule that tells a slow
 * consumer (closed 1013) from a socket this loop is behind with (the feed
 * held until it catches up), and the 250 ms tick (token expiry, pings,
 * close grace). The sockets themselves are ws_server.c's.
 */
#include "ws_server.h"

#include <linux/sockios.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>

#include "metrics.h"
#include "ws_server_internal.h"

/* Whether the client has stopped taking data: a good part of the socket's
 * kernel buffer is waiting, unsent, for its receive window to open. (A
 * client that reads has its bytes sent at once, whatever this loop's lag;
 * poll's POLLOUT was no guide: it stayed set for stalled sockets.) */
static bool kernel_full(ws_client_t *c)
{
    int unsent = 0;
    return ioctl(h2o_socket_get_fd(c->sock), SIOCOUTQNSD, &unsent) == 0 && unsent >= SOCKET_SNDBUF_BYTES / 2;
}

/* A socket past the bound is either a slow consumer -- its kernel buffer
 * stays full: closed once that has lasted STALL_CONFIRM_MS -- or one this
 * loop has not caught up with yet -- its kernel buffer has room: kept, and
 * no further batch is taken from the feed until it is back under the
 * bound, so the broadcaster stops reading Kafka instead of anyone being
 * dropped or memory growing. A stalled socket never holds the feed. */
static void check_behind(ws_server_t *w)
{
    uint64_t now = rt_now_ms();
    h2o_linklist_t *next;
    for (h2o_linklist_t *l = w->clients.next; l != &w->clients; l = next) {
        next = l->next;
        ws_client_t *c = H2O_STRUCT_FROM_MEMBER(ws_client_t, link, l);
        if (c->closing_ms != 0 || c->out.bytes <= w->bound) {
            c->stalled_ms = 0;
            continue;
        }
        if (!kernel_full(c)) {
            c->stalled_ms = 0;
            ws_client_behind(c, true);
            continue;
        }
        ws_client_behind(c, false);
        if (c->stalled_ms == 0) {
            c->stalled_ms = now;
        } else if (now - c->stalled_ms >= STALL_CONFIRM_MS) {
            ws_client_close(c, 1013, "slow consumer", WS_CLOSE_SLOW);
            ws_client_flush(c);
        }
    }
}

/* Fans one batch out: each socket gets the events it may see, in order. */
static void deliver(ws_server_t *w, ws_batch_t *batches)
{
    h2o_linklist_t *next;
    for (h2o_linklist_t *l = w->clients.next; l != &w->clients; l = next) {
        next = l->next;   /* ws_client_flush may free this client */
        ws_client_t *c = H2O_STRUCT_FROM_MEMBER(ws_client_t, link, l);
        if (c->closing_ms != 0)
            continue;
        bool queued = false, slow = false;
        for (ws_batch_t *b = batches; b != NULL && !slow; b = b->next) {
            for (int i = 0; i < b->n && !slow; i++) {
                const ws_event_t *e = &b->ev[i];
                bool sees = e->sync ? ws_access_sees_sync(&c->access, e->repo, e->user)
                                    : ws_access_sees_issue(&c->access, e->repo, e->user);
                if (!sees)
                    continue;
                if (!ws_outbox_push(&c->out, e->msg)) {
                    slow = true;
                    break;
                }
                queued = true;
            }
        }
        if (slow)
            ws_client_close(c, 1013, "slow consumer", WS_CLOSE_SLOW);
        if (queued || slow)
            ws_client_flush(c);
    }
    check_behind(w);
}

/* Everything the broadcaster has published, to the sockets. */
static void take_feed(ws_server_t *w)
{
    ws_batch_t *b = ws_feed_take(w->feed);
    if (b != NULL && w->nclients > 0)
        deliver(w, b);
    ws_batch_free(b);
}

void ws_on_feed(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    ws_server_t *w = H2O_STRUCT_FROM_MEMBER(ws_server_t, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        free(m);
    }
    if (w->behind > 0)
        w->held = true;   /* taken when the sockets behind have caught up */
    else
        take_feed(w);
}

void ws_resume_feed(ws_server_t *w)
{
    if (!w->held || w->behind > 0)
        return;
    w->held = false;
    take_feed(w);
}

/* On the broadcaster's thread, under the feed's lock. */
void ws_wake_loop(void *arg)
{
    ws_server_t *w = arg;
    h2o_multithread_message_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    h2o_multithread_send_message(&w->receiver, m);
}

void ws_on_tick(h2o_timeout_entry_t *entry)
{
    ws_server_t *w = H2O_STRUCT_FROM_MEMBER(ws_server_t, tick_entry, entry);
    uint64_t now = rt_now_ms();
    int64_t wall = (int64_t)time(NULL);
    uint64_t ping_every = (uint64_t)w->app->cfg->ws_ping_interval_s * 1000;
    size_t longest = 0;
    h2o_linklist_t *next;
    for (h2o_linklist_t *l = w->clients.next; l != &w->clients; l = next) {
        next = l->next;
        ws_client_t *c = H2O_STRUCT_FROM_MEMBER(ws_client_t, link, l);
        if (c->closing_ms != 0) {
            if (now - c->closing_ms >= (c->reason == WS_CLOSE_SLOW ? SLOW_CLOSE_GRACE_MS : CLOSE_GRACE_MS))
                ws_client_gone(c, c->reason);
            continue;
        }
        if (c->out.bytes > longest)
            longest = c->out.bytes;
        if (c->exp_s > 0 && wall >= c->exp_s) {
            ws_client_close(c, WSLAY_CODE_POLICY_VIOLATION, "token expired", WS_CLOSE_EXPIRED);
        } else if (c->ping_ms != 0 && now - c->ping_ms >= ping_every) {
            ws_client_gone(c, WS_CLOSE_PING);   /* nothing can be sent to a peer that does not answer */
            continue;
        } else if (c->ping_ms == 0 && now - c->heard_ms >= ping_every) {
            struct wslay_event_msg ping = {.opcode = WSLAY_PING};
            wslay_event_queue_msg(c->ctx, &ping);
            c->ping_ms = now;
        } else {
            continue;
        }
        ws_client_flush(c);
    }
    __atomic_store_n(&g_metrics.ws_queue_bytes, (int64_t)longest, __ATOMIC_RELAXED);
    check_behind(w);   /* a socket that stopped reading while the feed was held */
    ws_resume_feed(w);
    h2o_timeout_link(w->loop, &w->tick, &w->tick_entry);
}
