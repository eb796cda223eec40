/*
 * http_fetch.c -- see http_fetch.h.
 */
#include "http_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

struct http_exchange {
    CURL *easy;
    strbuf_t *response;
    void (*on_header)(void *call, const char *line, size_t len);
    void *call;
};

struct http_fetch {
    rt_actor_t *self;
    uint64_t io_socket, io_timer;   /* the tags of the watches */
    CURLM *multi;
    int timer_fd;                   /* curl's one timer */
    http_done_fn done;
    void *ctx;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    http_exchange_t *x = ctx;
    sb_append(x->response, data, size * n);
    return size * n;
}

static size_t on_header_line(char *data, size_t size, size_t n, void *ctx)
{
    http_exchange_t *x = ctx;
    x->on_header(x->call, data, size * n);
    return size * n;
}

/* curl's sockets, watched as curl asks */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    http_fetch_t *f = userp;
    if (what == CURL_POLL_REMOVE) {
        rt_unwatch_fd(f->self, fd);
        return 0;
    }
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (rt_watch_fd(f->self, fd, ev, f->io_socket) != 0)
        log_warn("http", "watching a connection: %m");
    return 0;
}

/* curl's one timer, as a timerfd: -1 cancels it, 0 means at once */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    http_fetch_t *f = userp;
    struct itimerspec its = {0};
    if (timeout_ms >= 0) {
        long ms = timeout_ms > 0 ? timeout_ms : 1;   /* all zeros would disarm it */
        its.it_value.tv_sec = ms / 1000;
        its.it_value.tv_nsec = (ms % 1000) * 1000000L;
    }
    timerfd_settime(f->timer_fd, 0, &its, NULL);
    return 0;
}

static void finished(http_fetch_t *f)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        http_exchange_t *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        http_result_t res = {.transport_ok = m->data.result == CURLE_OK,
                             .timed_out = m->data.result == CURLE_OPERATION_TIMEDOUT};
        curl_off_t retry_after = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &res.status);
        curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after);
        res.retry_after_s = (long)retry_after;
        if (!res.transport_ok)
            snprintf(res.error, sizeof(res.error), "%s", curl_easy_strerror(m->data.result));
        void *call = x->call;
        http_fetch_abandon(f, x);
        f->done(f->ctx, call, &res);
    }
}

bool http_fetch_io(http_fetch_t *f, const rt_io_msg_t *io)
{
    int running = 0;
    if (io->tag == f->io_timer) {
        uint64_t expirations;
        if (read(f->timer_fd, &expirations, sizeof(expirations)) < 0) { /* a stale readiness */ }
        curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    } else if (io->tag == f->io_socket) {
        int what = (io->events & EPOLLIN ? CURL_CSELECT_IN : 0) | (io->events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                   (io->events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(f->multi, io->fd, what, &running);
    } else {
        return false;
    }
    finished(f);
    return true;
}

http_exchange_t *http_fetch_start(http_fetch_t *f, const http_request_t *req)
{
    http_exchange_t *x = calloc(1, sizeof(*x));
    if (x == NULL)
        abort();
    x->response = req->response;
    x->on_header = req->on_header;
    x->call = req->call;
    sb_free(x->response);
    sb_init(x->response);
    x->easy = curl_easy_init();
    if (x->easy == NULL)
        abort();
    curl_easy_setopt(x->easy, CURLOPT_URL, req->url);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, req->headers);
    if (req->post_body != NULL)
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, req->post_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    if (x->on_header != NULL) {
        curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header_line);
        curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    }
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(f->multi, x->easy);
    return x;
}

void http_fetch_abandon(http_fetch_t *f, http_exchange_t *x)
{
    curl_multi_remove_handle(f->multi, x->easy);
    curl_easy_cleanup(x->easy);
    free(x);
}

http_fetch_t *http_fetch_new(rt_actor_t *self, uint64_t io_tag, long max_connections, http_done_fn done, void *ctx)
{
    http_fetch_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();
    f->self = self;
    f->io_socket = io_tag;
    f->io_timer = io_tag + 1;
    f->done = done;
    f->ctx = ctx;
    curl_global_init(CURL_GLOBAL_DEFAULT);   /* before any other thread uses curl */
    f->multi = curl_multi_init();
    f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (f->multi == NULL || f->timer_fd < 0 || rt_watch_fd(self, f->timer_fd, EPOLLIN, f->io_timer) != 0)
        abort();
    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, max_connections);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    return f;
}

void http_fetch_free(http_fetch_t *f)
{
    if (f == NULL)
        return;
    curl_multi_cleanup(f->multi);   /* unwatches curl's sockets */
    rt_unwatch_fd(f->self, f->timer_fd);
    close(f->timer_fd);
    free(f);
}
