/*
 * ws_server.c -- GET /ws (see ws_server.h).
 *
 * A socket's life: the route checks the caller (401), the Origin (403),
 * the ?repo= filters (400) and the caps (503, 429) before anything is
 * upgraded; h2o answers 101 and hands over the socket; wslay parses what
 * the client sends and makes our control frames (pongs, pings, the
 * close); the data frames are written here straight from the socket's
 * outbox (shared, reference-counted bytes: a slow socket holds
 * references, not copies), a header and a seq prefix before the shared
 * text, gathered into one write per loop turn (h2o's stock glue writes one
 * frame per turn and copies each message twice on the way).
 *
 * What follows is ws_fanout.c's. A socket past ws_queue_bytes whose
 * kernel buffer stays full for half a second has stopped reading: it is closed with 1013 "slow consumer" and
 * never slows anyone else. One whose kernel buffer has room is one this
 * loop is behind with: the feed is held until it catches up (the
 * broadcaster then stops reading Kafka), so a loop short of CPU delays
 * messages instead of dropping clients. Past 4 x ws_queue_bytes a socket
 * is closed whatever the cause: memory stays bounded.
 *
 * A 250 ms tick closes sockets whose token expired (1008), pings, closes
 * a socket that left a ping unanswered until the next one, and cuts a
 * socket that got a close frame and did not answer within a second.
 */
#include "ws_server.h"

#include <h2o/websocket.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "ws_handshake.h"
#include "ws_server_internal.h"

static void user_count(ws_server_t *w, const char *user, int delta)
{
    if (user[0] == '\0')
        return;   /* the admin: the total cap only */
    intptr_t n = (intptr_t)strmap_get(&w->per_user, user) + delta;
    if (n > 0)
        strmap_put(&w->per_user, user, (void *)n);
    else
        strmap_remove(&w->per_user, user);
}

static void flight_end(ws_client_t *c)
{
    flight_t *f = c->flight;
    if (f == NULL)
        return;
    for (int i = 0; i < f->n; i++)
        ws_msg_unref(f->msgs[i]);
    free(f);
    c->flight = NULL;
}

void ws_client_behind(ws_client_t *c, bool behind)
{
    if (c->behind != behind)
        c->w->behind += behind ? 1 : -1;
    c->behind = behind;
}

static void client_free(ws_client_t *c)
{
    ws_server_t *w = c->w;
    ws_client_behind(c, false);
    if (c->sock != NULL) {
        h2o_linklist_unlink(&c->link);
        h2o_socket_close(c->sock);
        wslay_event_context_free(c->ctx);
        gauge_add(&g_metrics.ws_clients, -1);
        if (c->closing_ms == 0)   /* a close we started was counted when it was decided */
            metric_add(&g_metrics.ws_disconnects[c->reason], 1);
    }
    w->nclients--;
    ws_feed_set_clients(w->feed, w->nclients);
    user_count(w, c->access.user, -1);
    ws_access_free(&c->access);
    ws_outbox_free(&c->out);
    sb_free(&c->wbuf);
    sb_free(&c->writing);
    flight_end(c);
    free(c);
}

/* The socket is done with: freed now, so callers return at once (never
 * from inside a wslay callback). A close we started keeps its reason. */
void ws_client_gone(ws_client_t *c, int reason)
{
    if (c->closing_ms == 0) {
        uint16_t sent = c->ctx ? wslay_event_get_status_code_sent(c->ctx) : 0;
        c->reason = sent == WSLAY_CODE_MESSAGE_TOO_BIG || sent == WSLAY_CODE_PROTOCOL_ERROR ||
                            sent == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA
                        ? WS_CLOSE_PROTOCOL
                        : reason;
    }
    client_free(c);
}

void ws_client_close(ws_client_t *c, uint16_t code, const char *why, int reason)
{
    if (c->closing_ms != 0)
        return;
    c->closing_ms = rt_now_ms();
    c->reason = reason;
    metric_add(&g_metrics.ws_disconnects[reason], 1);
    /* What is queued will not be sent: give the references back now. */
    ws_outbox_free(&c->out);
    ws_client_behind(c, false);
    wslay_event_queue_close(c->ctx, code, (const uint8_t *)why, strlen(why));
}

static void on_write_done(h2o_socket_t *sock, const char *err)
{
    ws_client_t *c = sock->data;
    flight_end(c);
    c->writing.len = 0;
    ws_server_t *w = c->w;
    if (err != NULL)
        ws_client_gone(c, WS_CLOSE_CLIENT);
    else
        ws_client_flush(c);
    ws_resume_feed(w);
}

/* The next write: wslay's control frames, then up to a write's worth of
 * the outbox as frames (none once a close is under way). */
static void write_next(ws_client_t *c)
{
    bool data = c->closing_ms == 0 && !wslay_event_get_close_sent(c->ctx) && !wslay_event_get_close_received(c->ctx);
    size_t k = data ? ws_outbox_len(&c->out) : 0;
    if (k > WRITE_MAX_MESSAGES)
        k = WRITE_MAX_MESSAGES;
    if (k == 0 && c->wbuf.len == 0)
        return;
    flight_t *f = malloc(sizeof(*f) + k * (sizeof(ws_msg_t *) + WS_FRAME_HEAD_MAX) + (2 * k + 1) * sizeof(h2o_iovec_t));
    if (f == NULL)
        abort();
    f->msgs = (ws_msg_t **)(f + 1);
    f->iov = (h2o_iovec_t *)(f->msgs + k);
    f->heads = (char *)(f->iov + 2 * k + 1);
    f->n = 0;
    size_t niov = 0, bytes = 0;
    if (c->wbuf.len > 0) {
        strbuf_t t = c->writing;
        c->writing = c->wbuf;
        c->wbuf = t;
        f->iov[niov++] = h2o_iovec_init(c->writing.data, c->writing.len);
    }
    uint64_t sent[WS_TYPE_COUNT] = {0};
    while ((size_t)f->n < k && bytes < WRITE_HIGH_BYTES) {
        char *head = f->heads + (size_t)f->n * WS_FRAME_HEAD_MAX;
        ws_msg_t *m;
        size_t hl = ws_outbox_take(&c->out, head, &m);
        if (hl == 0)
            break;
        f->msgs[f->n++] = m;
        f->iov[niov++] = h2o_iovec_init(head, hl);
        f->iov[niov++] = h2o_iovec_init(m->tail, m->len);
        bytes += hl + m->len;
        if (m->kind < WS_TYPE_COUNT)
            sent[m->kind]++;
    }
    for (int t = 0; t < WS_TYPE_COUNT; t++)
        if (sent[t] > 0)
            metric_add(&g_metrics.ws_sent[t], sent[t]);
    c->flight = f;
    h2o_socket_write(c->sock, f->iov, niov, on_write_done);
}

/* Runs wslay (the client's frames; our pongs, pings and close) until it
 * can do no more, then starts the next write unless one is in flight. */
void ws_client_flush(ws_client_t *c)
{
    for (;;) {
        bool moved = false;
        if (wslay_event_want_write(c->ctx)) {
            size_t before = c->wbuf.len;
            if (wslay_event_send(c->ctx) != 0) {
                ws_client_gone(c, WS_CLOSE_PROTOCOL);
                return;
            }
            moved |= c->wbuf.len != before;
        }
        if (c->sock->input->size > 0 && wslay_event_want_read(c->ctx)) {
            if (wslay_event_recv(c->ctx) != 0) {
                ws_client_gone(c, WS_CLOSE_PROTOCOL);
                return;
            }
            moved = true;
        }
        if (!moved)
            break;
    }
    if (c->behind && c->out.bytes <= c->w->bound)
        ws_client_behind(c, false);
    if (!h2o_socket_is_writing(c->sock))
        write_next(c);
    if (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx) && !h2o_socket_is_writing(c->sock)) {
        ws_client_gone(c, WS_CLOSE_CLIENT);   /* the close handshake is done */
        return;
    }
    /* A dashboard sends almost nothing: an idle socket keeps no read
     * buffer (h2o takes a new one on the next read). */
    if (c->sock->input->size == 0 && c->sock->input->capacity > 0) {
        h2o_buffer_dispose(&c->sock->input);
        h2o_buffer_init(&c->sock->input, &h2o_socket_buffer_prototype);
    }
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    ws_client_t *c = sock->data;
    if (err != NULL) {
        ws_client_gone(c, WS_CLOSE_CLIENT);
        return;
    }
    ws_client_flush(c);
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    ws_client_t *c = user;
    if (c->sock->input->size == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (len > c->sock->input->size)
        len = c->sock->input->size;
    memcpy(buf, c->sock->input->bytes, len);
    h2o_buffer_consume(&c->sock->input, len);
    return (ssize_t)len;
}

/* wslay sends only control frames here (data frames are ours): always
 * taken whole, so no data frame is ever written into the middle of one. */
static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
    (void)ctx;
    (void)flags;
    ws_client_t *c = user;
    sb_append(&c->wbuf, (const char *)data, len);
    return (ssize_t)len;
}

/* Clients may narrow what they get: {"type":"subscribe","repos":["o/r"]}.
 * Nothing a client sends is ever sent back. */
static void on_client_text(ws_client_t *c, const uint8_t *msg, size_t len)
{
    json_t *j = json_loadb((const char *)msg, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    json_t *repos = json_object_get(j, "repos");
    char err[200] = "expected {\"type\":\"subscribe\",\"repos\":[\"owner/repo\"]}";
    bool ok = type != NULL && strcmp(type, "subscribe") == 0 && json_is_array(repos);
    size_t i;
    json_t *v;
    json_array_foreach(repos, i, v) {
        if (!ok)
            break;
        ok = json_is_string(v) && ws_access_add_narrow(&c->access, json_string_value(v), err, sizeof(err)) == 0;
    }
    json_decref(j);
    if (!ok)
        ws_client_close(c, WSLAY_CODE_POLICY_VIOLATION, err, WS_CLOSE_PROTOCOL);
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
    (void)ctx;
    ws_client_t *c = user;
    c->heard_ms = rt_now_ms();
    if (arg->opcode == WSLAY_PONG)
        c->ping_ms = 0;
    else if (arg->opcode == WSLAY_TEXT_FRAME)
        on_client_text(c, arg->msg, arg->msg_length);
    else if (arg->opcode == WSLAY_BINARY_FRAME)
        ws_client_close(c, WSLAY_CODE_UNSUPPORTED_DATA, "binary messages are not accepted", WS_CLOSE_PROTOCOL);
}

static void on_upgraded(void *data, h2o_socket_t *sock, size_t reqsize)
{
    ws_client_t *c = data;
    if (sock == NULL) {   /* the client went away before the 101 was written */
        client_free(c);
        return;
    }
    http_conn_forget(sock);   /* now a WebSocket: counted against the ws caps, not HTTP's */
    int sndbuf = SOCKET_SNDBUF_BYTES;
    setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    c->sock = sock;
    sock->data = c;
    h2o_buffer_consume(&sock->input, reqsize);
    static const struct wslay_event_callbacks callbacks = {.recv_callback = recv_cb, .send_callback = send_cb,
                                                           .on_msg_recv_callback = on_msg};
    wslay_event_context_server_init(&c->ctx, &callbacks, c);
    wslay_event_config_set_max_recv_msg_length(c->ctx, MAX_INBOUND_BYTES);
    c->heard_ms = rt_now_ms();
    h2o_linklist_insert(&c->w->clients, &c->link);
    gauge_add(&g_metrics.ws_clients, 1);
    h2o_socket_read_start(sock, on_read);
    ws_client_flush(c);
}

int route_ws(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    ws_server_t *w = app->ws;
    ws_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    int answered = 0;
    if (!ws_handshake_check(app, req, rc->route, &c->access, &c->exp_s, &answered)) {
        free(c);
        return answered;
    }
    const char *key = NULL;
    bool refused = true;
    if (w == NULL || w->feed == NULL)
        answered = http_respond_error(req, rc->route, 503, "unavailable", "no pipeline behind this server");
    else if (h2o_is_websocket_handshake(req, &key) != 0 || key == NULL || req->version >= 0x200)
        answered = http_respond_error(req, rc->route, 426, "upgrade_required",
                                      "GET /ws is a WebSocket (HTTP/1.1 Upgrade: websocket)");
    else if (w->nclients >= app->cfg->ws_max_clients)
        answered = http_respond_error(req, rc->route, 503, "too_many_clients", "ws_max_clients sockets are open");
    else if (c->access.user[0] != '\0' &&
             (intptr_t)strmap_get(&w->per_user, c->access.user) >= app->cfg->ws_max_clients_per_user)
        answered = http_respond_error(req, rc->route, 429, "too_many_clients",
                                      "ws_max_clients_per_user sockets of this user are open");
    else
        refused = false;
    if (refused) {
        ws_access_free(&c->access);
        free(c);
        return answered;
    }
    c->w = w;
    ws_outbox_init(&c->out, (size_t)app->cfg->ws_queue_bytes * HARD_BOUND_FACTOR);
    sb_init(&c->wbuf);
    sb_init(&c->writing);
    w->nclients++;
    ws_feed_set_clients(w->feed, w->nclients);
    user_count(w, c->access.user, 1);
    char ak[29];
    ws_handshake_accept_key(key, ak);
    req->res.status = 101;
    req->res.reason = "Switching Protocols";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("sec-websocket-accept"), 0, NULL, ak, 28);
    metrics_http_request(rc->route, 101);
    h2o_http1_upgrade(req, NULL, 0, on_upgraded, c);
    return 0;
}

/* ---- the server ---- */

ws_server_t *ws_server_new(http_app_t *app, h2o_loop_t *loop, ws_feed_t *feed)
{
    ws_server_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        abort();
    w->app = app;
    w->loop = loop;
    w->feed = feed;
    w->bound = (size_t)app->cfg->ws_queue_bytes;
    h2o_linklist_init_anchor(&w->clients);
    strmap_init(&w->per_user);
    h2o_multithread_register_receiver(app->queue, &w->receiver, ws_on_feed);
    h2o_timeout_init(loop, &w->tick, TICK_MS);
    w->tick_entry.cb = ws_on_tick;
    h2o_timeout_link(loop, &w->tick, &w->tick_entry);
    if (feed != NULL)
        ws_feed_listen(feed, ws_wake_loop, w);
    return w;
}

void ws_server_close_all(ws_server_t *w, int timeout_ms)
{
    if (w->feed != NULL)
        ws_feed_listen(w->feed, NULL, NULL);
    h2o_linklist_t *next;
    for (h2o_linklist_t *l = w->clients.next; l != &w->clients; l = next) {
        next = l->next;
        ws_client_t *c = H2O_STRUCT_FROM_MEMBER(ws_client_t, link, l);
        ws_client_close(c, WSLAY_CODE_GOING_AWAY, "server shutting down", WS_CLOSE_SHUTDOWN);
        ws_client_flush(c);
    }
    uint64_t until = rt_now_ms() + (uint64_t)timeout_ms;
    while (!h2o_linklist_is_empty(&w->clients) && rt_now_ms() < until)
        h2o_evloop_run(w->loop, 10);
    while (!h2o_linklist_is_empty(&w->clients))
        ws_client_gone(H2O_STRUCT_FROM_MEMBER(ws_client_t, link, w->clients.next), WS_CLOSE_SHUTDOWN);
}

void ws_server_free(ws_server_t *w)
{
    if (w == NULL)
        return;
    if (w->feed != NULL)
        ws_feed_listen(w->feed, NULL, NULL);
    while (!h2o_linklist_is_empty(&w->clients))
        ws_client_gone(H2O_STRUCT_FROM_MEMBER(ws_client_t, link, w->clients.next), WS_CLOSE_SHUTDOWN);
    /* Wake-ups sent and not yet received. */
    while (!h2o_linklist_is_empty(&w->receiver._messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, w->receiver._messages.next);
        h2o_linklist_unlink(&m->link);
        free(m);
    }
    h2o_multithread_unregister_receiver(w->app->queue, &w->receiver);
    if (h2o_timeout_is_linked(&w->tick_entry))
        h2o_timeout_unlink(&w->tick_entry);
    h2o_timeout_dispose(w->loop, &w->tick);
    strmap_free(&w->per_user);
    free(w);
}
