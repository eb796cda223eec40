#include "routes.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kafka.h"
#include "metrics.h"
#include "publisher.h"
#include "strbuf.h"

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

int http_respond(h2o_req_t *req, const char *route, int status, const char *ctype, const char *body,
                   size_t len)
{
    req->res.status = status;
    req->res.reason = reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    req->res.content_length = len;   /* a length, not chunks: the whole body is here */
    h2o_send_inline(req, body, len);
    metrics_http_request(route, status);
    return 0;
}

int http_respond_json(h2o_req_t *req, const char *route, int status, const char *json)
{
    return http_respond(req, route, status, "application/json", json, strlen(json));
}

int http_respond_error(h2o_req_t *req, const char *route, int status, const char *error, const char *detail)
{
    json_t *o = json_pack("{s:s, s:s}", "error", error, "detail", detail);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int rc = http_respond_json(req, route, status, s);
    free(s);
    return rc;
}

typedef struct depth_acc {
    char names[32][32];
    long depth[32];
    int n;
} depth_acc_t;

static void add_depth(rt_actor_t *a, void *ctx)
{
    depth_acc_t *acc = ctx;
    const char *name = rt_actor_name(a);
    for (int i = 0; i < acc->n; i++) {
        if (strcmp(acc->names[i], name) == 0) {
            acc->depth[i] += rt_actor_depth(a);
            return;
        }
    }
    if (acc->n < 32) {
        snprintf(acc->names[acc->n], sizeof(acc->names[0]), "%s", name);
        acc->depth[acc->n++] = rt_actor_depth(a);
    }
}

static void render_mailboxes(strbuf_t *out, void *ctx)
{
    const pipeline_view_t *pl = ctx;
    depth_acc_t acc = {0};
    rt_foreach_actor(pl->rt, add_depth, &acc);
    sb_puts(out, "# HELP dispatchd_mailbox_depth Messages queued for each kind of actor.\n"
                 "# TYPE dispatchd_mailbox_depth gauge\n");
    for (int i = 0; i < acc.n; i++)
        sb_printf(out, "dispatchd_mailbox_depth{actor=\"%s\"} %ld\n", acc.names[i], acc.depth[i]);
}

struct http_pending {
    h2o_multithread_message_t msg;
    http_app_t *app;
    h2o_req_t *req;               /* NULL once the request is gone */
    http_pending_t **guard;       /* lives in the request's pool */
    const char *route;
    int status;
    char *body;
};

static void pending_req_disposed(void *p)
{
    http_pending_t **guard = p;
    if (*guard != NULL) {
        (*guard)->req = NULL;
        (*guard)->guard = NULL;
    }
}

http_pending_t *http_pending_new(http_app_t *app, h2o_req_t *req, const char *route)
{
    http_pending_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    p->app = app;
    p->req = req;
    p->route = route;
    p->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*p->guard), pending_req_disposed);
    *p->guard = p;
    return p;
}

void http_pending_complete(http_pending_t *p, int status, const char *json)
{
    p->status = status;
    p->body = strdup(json);
    h2o_multithread_send_message(&p->app->receiver, &p->msg);
}

static void on_pending(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        http_pending_t *p = H2O_STRUCT_FROM_MEMBER(http_pending_t, msg, m);
        if (p->req != NULL) {
            *p->guard = NULL;
            http_respond_json(p->req, p->route, p->status, p->body);
        }
        free(p->body);
        free(p);
    }
}

/* Per-partition families. Lag is the broker's high watermark minus the
 * committed offset, so it stays true while a partition is paused (the
 * consumer's own lag view freezes then). */
static void render_partitions(strbuf_t *out, void *ctx)
{
    const http_app_t *app = ctx;
    static const struct { const char *name, *type, *help; } fam[] = {
        {"dispatchd_consumer_lag", "gauge", "Records on the broker past the committed offset."},
        {"dispatchd_partition_inflight", "gauge", "Records running, by partition."},
        {"dispatchd_incomplete_offsets", "gauge", "Records taken and not yet below the commit point."},
        {"dispatchd_commit_lag", "gauge", "Offsets taken past the committed offset."},
        {"dispatchd_offset_map_bytes", "gauge", "Estimated size of the committed offset map."},
        {"dispatchd_partition_paused", "gauge", "1 while the partition's fetching is paused."},
    };
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name, fam[f].type);
        for (int i = 0; i < PIPELINE_MAX_PARTITIONS; i++) {
            const partition_stats_t *st = &app->pl->status->partitions[i];
            if (!pstat_get(&st->assigned))
                continue;
            int64_t committed = pstat_get(&st->committed), taken = pstat_get(&st->taken);
            int64_t hw = pstat_get(&st->high_watermark);
            int64_t v = 0;
            switch (f) {
            case 0: v = hw > 0 ? hw - (committed > 0 ? committed : 0) : 0; break;
            case 1: v = pstat_get(&st->inflight); break;
            case 2: v = pstat_get(&st->incomplete); break;
            case 3: v = taken > committed && committed >= 0 ? taken - committed : 0; break;
            case 4: v = pstat_get(&st->map_bytes); break;
            default: v = pstat_get(&st->paused); break;
            }
            if (f == 0)
                sb_printf(out, "%s{topic=\"%s\",partition=\"%d\"} %lld\n", fam[f].name, app->cfg->topic_raw, i,
                          (long long)(v > 0 ? v : 0));
            else
                sb_printf(out, "%s{partition=\"%d\"} %lld\n", fam[f].name, i, (long long)v);
        }
    }
}

/* A query value's %XX escapes decoded into out; false when malformed or
 * too long. */
static bool query_value(const char *v, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = v[i];
        if (ch == '%') {
            if (i + 2 >= len || !isxdigit((unsigned char)v[i + 1]) || !isxdigit((unsigned char)v[i + 2]))
                return false;
            char hex[3] = {v[i + 1], v[i + 2], '\0'};
            ch = (char)strtol(hex, NULL, 16);
            i += 2;
        } else if (ch == '+') {
            ch = ' ';
        }
        if (n + 1 >= cap)
            return false;
        out[n++] = ch;
    }
    out[n] = '\0';
    return true;
}

/* The next non-empty parameter's name and value, raw; false at the end. */
static bool next_param(h2o_req_t *req, size_t *pos, h2o_iovec_t *name, h2o_iovec_t *value)
{
    if (req->query_at == SIZE_MAX)
        return false;
    const char *base = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    for (const char *q = base + *pos; q < end;) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        *pos = (size_t)((amp ? amp + 1 : end) - base);
        if (stop > q) {
            const char *eq = memchr(q, '=', (size_t)(stop - q));
            *name = h2o_iovec_init(q, (size_t)((eq ? eq : stop) - q));
            *value = eq ? h2o_iovec_init(eq + 1, (size_t)(stop - eq - 1)) : h2o_iovec_init(stop, 0);
            return true;
        }
        q = amp ? amp + 1 : end;
    }
    return false;
}

int http_query_each(h2o_req_t *req, size_t *pos, char *name, size_t ncap, char *out, size_t cap)
{
    h2o_iovec_t n, v;
    if (!next_param(req, pos, &n, &v))
        return 0;
    return query_value(n.base, n.len, name, ncap) && query_value(v.base, v.len, out, cap) ? 1 : -1;
}

int http_query_next(h2o_req_t *req, const char *name, size_t *pos, char *out, size_t cap)
{
    h2o_iovec_t n, v;
    size_t nlen = strlen(name);
    while (next_param(req, pos, &n, &v))
        if (n.len == nlen && memcmp(n.base, name, nlen) == 0)
            return query_value(v.base, v.len, out, cap) ? 1 : -1;
    return 0;
}

typedef struct acked_answer {
    http_pending_t *pending;
    int ok_status;
    const char *ok_json;
} acked_answer_t;

static void on_acked(void *ctx, rd_kafka_resp_err_t err)
{
    acked_answer_t *a = ctx;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        http_pending_complete(a->pending, a->ok_status, a->ok_json);
    } else if (kafka_produce_error_size(err)) {
        /* It can never fit: a 5xx would only make the sender try again. */
        http_pending_complete(a->pending, 413,
                              "{\"error\":\"payload_too_large\",\"detail\":\"larger than the topic accepts\"}");
    } else {
        char body[256];
        snprintf(body, sizeof(body), "{\"error\":\"kafka_unavailable\",\"detail\":\"%s\"}", rd_kafka_err2name(err));
        http_pending_complete(a->pending, 503, body);
    }
    free(a);
}

int http_produce_then_answer(http_app_t *app, h2o_req_t *req, const char *route, const char *topic,
                             const char *key, char *value, const char *correlation_id, int ok_status,
                             const char *ok_json)
{
    acked_answer_t *a = malloc(sizeof(*a));
    if (a == NULL)
        abort();
    a->pending = http_pending_new(app, req, route);
    a->ok_status = ok_status;
    a->ok_json = ok_json;
    external_ack_t *ack = rt_msg_new(sizeof(*ack), MSG_EXTERNAL_ACK);
    ack->done = on_acked;
    ack->ctx = a;
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    if (correlation_id != NULL)
        rd_kafka_header_add(h, "correlation_id", -1, correlation_id, -1);
    rd_kafka_resp_err_t e = rd_kafka_producev(app->pl->producer, RD_KAFKA_V_TOPIC(topic),
                                              RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(value, strlen(value)),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_HEADERS(h),
                                              RD_KAFKA_V_OPAQUE(ack), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h);
        free(value);
        rt_msg_free(ack);
        on_acked(a, e);
    }
    return 0;
}

void routes_init(http_app_t *app, h2o_loop_t *loop)
{
    if (app->pl != NULL) {
        metrics_add_hook(render_mailboxes, (void *)app->pl);
        metrics_add_hook(render_partitions, app);
    }
    app->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(app->queue, &app->receiver, on_pending);
}

void routes_free(http_app_t *app)
{
    metrics_clear_hooks();
    h2o_multithread_unregister_receiver(app->queue, &app->receiver);
    h2o_multithread_destroy_queue(app->queue);
}

void routes_refresh_health(http_app_t *app)
{
    int db = PQping(app->cfg->database_url) == PQPING_OK;
    int kafka = 0;
    if (app->pl != NULL && app->pl->producer != NULL) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(app->pl->producer, 0, NULL, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            kafka = md->broker_cnt > 0;
            rd_kafka_metadata_destroy(md);
        }
    }
    __atomic_store_n(&app->db_ok, db, __ATOMIC_RELAXED);
    __atomic_store_n(&app->kafka_ok, kafka, __ATOMIC_RELAXED);
}

int route_health(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    (void)app;
    return http_respond_json(req, rc->route, 200, "{\"status\":\"ok\"}");
}

int route_ready(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    int k = __atomic_load_n(&app->kafka_ok, __ATOMIC_RELAXED);
    int d = __atomic_load_n(&app->db_ok, __ATOMIC_RELAXED);
    char body[128];
    snprintf(body, sizeof(body), "{\"ready\":%s,\"kafka\":%s,\"database\":%s}", k && d ? "true" : "false",
             k ? "true" : "false", d ? "true" : "false");
    return http_respond_json(req, rc->route, k && d ? 200 : 503, body);
}

int route_metrics(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    (void)app;
    strbuf_t sb;
    sb_init(&sb);
    metrics_render(&sb);
    int r = http_respond(req, rc->route, 200, "text/plain; version=0.0.4", sb.data, sb.len);
    sb_free(&sb);
    return r;
}

/* Both from the consistency actor's newest snapshot (consistency.h): no
 * request here costs a broker or database query, or waits for one. */
static int respond_latest(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc, bool group_status)
{
    latest_t *l = app->pl == NULL ? NULL : group_status ? app->pl->status_doc : app->pl->health_doc;
    latest_doc_t *d = l != NULL ? latest_get(l) : NULL;
    if (d == NULL) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("retry-after"), 0, NULL, H2O_STRLIT("1"));
        return http_respond_error(req, rc->route, 503, "starting", "the first snapshot is being taken");
    }
    int r = http_respond(req, rc->route, d->status, "application/json", d->text, d->len);
    latest_release(d);
    return r;
}

int route_consistency(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    return respond_latest(app, req, rc, false);
}

int route_status(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    return respond_latest(app, req, rc, true);
}
