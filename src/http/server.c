#define H2O_USE_LIBUV 0
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <h2o.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "routes.h"
#include "status_stream.h"
#include "ws_server.h"

/* An accepted connection, oldest first in http_server.conns. */
typedef struct conn_slot {
    h2o_linklist_t link;
    h2o_socket_t *sock;
    struct http_server *server;
    bool evicted;
} conn_slot_t;

struct http_server {
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    pthread_t thread;
    pthread_t health_thread;
    int stop;
    int port;
    http_app_t app;
    pipeline_view_t view;     /* app.pl points here */
    h2o_linklist_t conns;     /* conn_slot_t, loop thread only */
    int nconns;
    int max_conns;
};

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    http_server_t *s = *(http_server_t **)(self + 1);
    return routes_dispatch(&s->app, req);
}

static void on_socket_close(void *data)
{
    conn_slot_t *c = data;
    h2o_linklist_unlink(&c->link);
    c->server->nconns--;
    free(c);
}

void http_conn_forget(h2o_socket_t *sock)
{
    if (sock->on_close.cb != on_socket_close)
        return;
    on_socket_close(sock->on_close.data);
    sock->on_close.cb = NULL;
    sock->on_close.data = NULL;
}

/* At the connection cap, the oldest connection that has not sent a byte
 * makes room: it is shut down, and h2o closes it through its own read path
 * (an idle flood cannot lock out /health). With none such, the new
 * connection is refused at once. */
static bool make_room(http_server_t *s)
{
    for (h2o_linklist_t *l = s->conns.next; l != &s->conns; l = l->next) {
        conn_slot_t *c = H2O_STRUCT_FROM_MEMBER(conn_slot_t, link, l);
        if (!c->evicted && c->sock->bytes_read == 0) {
            c->evicted = true;
            shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
            metric_add(&g_metrics.http_conns_evicted, 1);
            return true;
        }
    }
    return false;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_accept_ctx_t *actx = listener->data;
    http_server_t *srv = H2O_STRUCT_FROM_MEMBER(http_server_t, accept_ctx, actx);
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL)
        return;
    if (srv->nconns >= srv->max_conns && !make_room(srv)) {
        metric_add(&g_metrics.http_conns_refused, 1);
        h2o_socket_close(sock);
        return;
    }
    conn_slot_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        h2o_socket_close(sock);
        return;
    }
    c->sock = sock;
    c->server = srv;
    h2o_linklist_insert(&srv->conns, &c->link);
    srv->nconns++;
    sock->on_close.cb = on_socket_close;
    sock->on_close.data = c;
    h2o_accept(actx, sock);
}

static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
    char host[128];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (host[0] == '\0' || strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static void *loop_main(void *arg)
{
    http_server_t *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
        h2o_evloop_run(s->ctx.loop, 100);
    return NULL;
}

/* Readiness needs network round trips; refresh it off the event loop. */
static void *health_main(void *arg)
{
    http_server_t *s = arg;
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
        routes_refresh_health(&s->app);
        for (int i = 0; i < 20 && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); i++)
            usleep(100000);
    }
    return NULL;
}

http_server_t *http_start(const config_t *cfg, const pipeline_view_t *pl, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    if (parse_addr(cfg->http_addr, &sa) != 0) {
        snprintf(err, errlen, "DISPATCHD_HTTP_ADDR: '%s' is not host:port", cfg->http_addr);
        return NULL;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "DISPATCHD_HTTP_ADDR: cannot listen on %s: %s", cfg->http_addr, strerror(errno));
        close(fd);
        return NULL;
    }
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);

    http_server_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->port = ntohs(sa.sin_port);
    s->app.cfg = cfg;
    if (pl != NULL) {
        s->view = *pl;
        s->app.pl = &s->view;
    }
    h2o_linklist_init_anchor(&s->conns);
    s->max_conns = cfg->http_max_connections;
    h2o_config_init(&s->config);
    /* h2o answers 413 from Content-Length before reading, and stops a
     * chunked body at the cap: no body larger is ever held. */
    s->config.max_request_entity_size = (size_t)cfg->http_max_body_bytes;
    h2o_hostconf_t *host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(path, sizeof(*h) + sizeof(http_server_t *));
    h->on_req = on_req;
    *(http_server_t **)(h + 1) = s;
    h2o_context_init(&s->ctx, h2o_evloop_create(), &s->config);
    routes_init(&s->app, s->ctx.loop);
    s->app.ws = ws_server_new(&s->app, s->ctx.loop, pl != NULL ? pl->ws_feed : NULL);
    s->app.status_stream = status_stream_new(&s->app, s->ctx.loop);
    s->accept_ctx.ctx = &s->ctx;
    s->accept_ctx.hosts = s->config.hosts;
    s->listener = h2o_evloop_socket_create(s->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    s->listener->data = &s->accept_ctx;
    h2o_socket_read_start(s->listener, on_accept);
    routes_refresh_health(&s->app);
    pthread_create(&s->thread, NULL, loop_main, s);
    pthread_create(&s->health_thread, NULL, health_main, s);
    log_info("http", "control plane on http://%s:%d", inet_ntoa(sa.sin_addr), s->port);
    return s;
}

int http_port(const http_server_t *s)
{
    return s->port;
}

void http_stop(http_server_t *s)
{
    if (s == NULL)
        return;
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    pthread_join(s->thread, NULL);
    pthread_join(s->health_thread, NULL);
    h2o_socket_close(s->listener);
    ws_server_close_all(s->app.ws, 1000);
    status_stream_close_all(s->app.status_stream);
    /* Open connections end through h2o's own read path (EOF), bounded. */
    for (h2o_linklist_t *l = s->conns.next; l != &s->conns; l = l->next)
        shutdown(h2o_socket_get_fd(H2O_STRUCT_FROM_MEMBER(conn_slot_t, link, l)->sock), SHUT_RDWR);
    for (int i = 0; i < 50 && s->nconns > 0; i++)
        h2o_evloop_run(s->ctx.loop, 10);
    ws_server_free(s->app.ws);
    status_stream_free(s->app.status_stream);
    routes_free(&s->app);
    h2o_context_dispose(&s->ctx);
    /* evloop frees closed sockets (ours and the context's queue) on its
     * next turn: give it that turn. */
    h2o_evloop_run(s->ctx.loop, 0);
    h2o_evloop_destroy(s->ctx.loop);
    h2o_config_dispose(&s->config);
    free(s);
}
