/*
 * llm_transport.c -- see llm_transport.h.
 */
#include "llm_transport.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

enum { IO_SOCKET = 1, IO_TIMER = 2 };   /* the tags of the transport's watches */

static const char *SYSTEM_PROMPT =
    "You triage GitHub issues. Answer with one JSON object and nothing else, with these fields: "
    "\"category\": one of bug, feature_request, enhancement, documentation, question, security; "
    "\"priority\": one of low, medium, high, critical; \"severity\": one of low, medium, high, critical; "
    "\"estimated_effort\": one of small, medium, large; \"component\": the affected area in a few words; "
    "\"confidence\": a number from 0 to 1; \"tags\": up to 8 short strings; \"summary\": one sentence; "
    "\"reasoning\": one or two sentences; \"sentiment\": one of positive, neutral, negative.";

struct llm_exchange {
    CURL *easy;
    strbuf_t *response;
    void *call;
};

struct llm_transport {
    rt_actor_t *self;
    const config_t *cfg;
    CURLM *multi;
    int timer_fd;                 /* curl's one timer */
    struct curl_slist *headers;   /* the same for every request */
    char *url;
    llm_done_fn done;
    void *ctx;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    llm_exchange_t *x = ctx;
    sb_append(x->response, data, size * n);
    return size * n;
}

/* curl's sockets, watched as curl asks */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    llm_transport_t *t = userp;
    if (what == CURL_POLL_REMOVE) {
        rt_unwatch_fd(t->self, fd);
        return 0;
    }
    uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (rt_watch_fd(t->self, fd, ev, IO_SOCKET) != 0)
        log_warn("llm", "watching a connection: %m");
    return 0;
}

/* curl's one timer, as a timerfd: -1 cancels it, 0 means at once */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    llm_transport_t *t = userp;
    struct itimerspec its = {0};
    if (timeout_ms >= 0) {
        long ms = timeout_ms > 0 ? timeout_ms : 1;   /* all zeros would disarm it */
        its.it_value.tv_sec = ms / 1000;
        its.it_value.tv_nsec = (ms % 1000) * 1000000L;
    }
    timerfd_settime(t->timer_fd, 0, &its, NULL);
    return 0;
}

static void finished(llm_transport_t *t)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        llm_exchange_t *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        llm_result_t res = {.transport_ok = m->data.result == CURLE_OK,
                            .timed_out = m->data.result == CURLE_OPERATION_TIMEDOUT};
        curl_off_t retry_after = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &res.status);
        curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after);
        res.retry_after_s = (long)retry_after;
        if (!res.transport_ok)
            snprintf(res.error, sizeof(res.error), "%s", curl_easy_strerror(m->data.result));
        void *call = x->call;
        llm_transport_abandon(t, x);
        t->done(t->ctx, call, &res);
    }
}

bool llm_transport_io(llm_transport_t *t, const rt_io_msg_t *io)
{
    int running = 0;
    if (io->tag == IO_TIMER) {
        uint64_t expirations;
        if (read(t->timer_fd, &expirations, sizeof(expirations)) < 0) { /* a stale readiness */ }
        curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    } else if (io->tag == IO_SOCKET) {
        int what = (io->events & EPOLLIN ? CURL_CSELECT_IN : 0) | (io->events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                   (io->events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(t->multi, io->fd, what, &running);
    } else {
        return false;
    }
    finished(t);
    return true;
}

llm_exchange_t *llm_transport_start(llm_transport_t *t, const char *body, strbuf_t *response, void *call)
{
    llm_exchange_t *x = calloc(1, sizeof(*x));
    if (x == NULL)
        abort();
    x->response = response;
    x->call = call;
    sb_free(response);
    sb_init(response);
    x->easy = curl_easy_init();
    if (x->easy == NULL)
        abort();
    curl_easy_setopt(x->easy, CURLOPT_URL, t->url);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)t->cfg->llm_timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(t->multi, x->easy);
    return x;
}

void llm_transport_abandon(llm_transport_t *t, llm_exchange_t *x)
{
    curl_multi_remove_handle(t->multi, x->easy);
    curl_easy_cleanup(x->easy);
    free(x);
}

llm_transport_t *llm_transport_new(rt_actor_t *self, const config_t *cfg, llm_done_fn done, void *ctx)
{
    llm_transport_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    t->self = self;
    t->cfg = cfg;
    t->done = done;
    t->ctx = ctx;
    curl_global_init(CURL_GLOBAL_DEFAULT);   /* before any other thread uses curl */
    t->multi = curl_multi_init();
    t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (t->multi == NULL || t->timer_fd < 0 || rt_watch_fd(self, t->timer_fd, EPOLLIN, IO_TIMER) != 0)
        abort();
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)cfg->llm_max_inflight);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    strbuf_t u;
    sb_init(&u);
    const char *base = cfg->openai_base_url;
    size_t bl = strlen(base);
    sb_printf(&u, "%.*s/chat/completions", (int)(bl > 0 && base[bl - 1] == '/' ? bl - 1 : bl), base);
    t->url = u.data;
    t->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (cfg->openai_api_key != NULL && cfg->openai_api_key[0] && t->headers != NULL) {
        strbuf_t auth;
        sb_init(&auth);
        sb_printf(&auth, "Authorization: Bearer %s", cfg->openai_api_key);
        t->headers = curl_slist_append(t->headers, auth.data);
        sb_free(&auth);
    }
    if (t->headers == NULL)
        abort();
    return t;
}

void llm_transport_free(llm_transport_t *t)
{
    if (t == NULL)
        return;
    curl_multi_cleanup(t->multi);   /* unwatches curl's sockets */
    rt_unwatch_fd(t->self, t->timer_fd);
    close(t->timer_fd);
    curl_slist_free_all(t->headers);
    free(t->url);
    free(t);
}

/* The user message: title, labels and the body cut to body_chars at a
 * character boundary. */
static char *user_message(const config_t *cfg, const issue_event_t *e)
{
    const char *body = e->comment_body ? e->comment_body : e->body ? e->body : "";
    size_t max = (size_t)cfg->llm_body_chars, len = strlen(body);
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)body[len] & 0xC0) == 0x80)
            len--;
    }
    strbuf_t b;
    sb_init(&b);
    sb_printf(&b, "Repository: %s/%s\nTitle: %s\nLabels:", e->owner ? e->owner : "", e->repo ? e->repo : "",
              e->title ? e->title : "");
    size_t i;
    json_t *l;
    json_array_foreach(e->labels, i, l) {
        const char *name = json_string_value(json_object_get(l, "name"));
        sb_printf(&b, " %s", name ? name : "");
    }
    sb_puts(&b, "\n\nBody:\n");
    sb_append(&b, body, len);
    return b.data;
}

char *llm_request_json(const config_t *cfg, const issue_event_t *e, const char *bad, const char *why)
{
    char *user = user_message(cfg, e);
    json_t *msgs = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", SYSTEM_PROMPT, "role", "user",
                             "content", user);
    free(user);
    if (bad != NULL) {
        char fix[512];
        snprintf(fix, sizeof(fix),
                 "That answer was not valid: %s. Reply again with only the JSON object, every field present and "
                 "only the allowed values.", why);
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant", "content", bad));
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", fix));
    }
    json_t *req = json_pack("{s:s, s:o, s:i, s:{s:s}}", "model", cfg->openai_model, "messages", msgs, "temperature",
                            0, "response_format", "type", "json_object");
    char *out = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return out;
}
