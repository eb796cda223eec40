#include "routes.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "pipeline.h"
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
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

static int respond(h2o_req_t *req, const char *route, int status, const char *ctype, const char *body,
                   size_t len)
{
    req->res.status = status;
    req->res.reason = reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_send_inline(req, body, len);
    metrics_http_request(route, status);
    return 0;
}

static int respond_json(h2o_req_t *req, const char *route, int status, const char *json)
{
    return respond(req, route, status, "application/json", json, strlen(json));
}

static int respond_error(h2o_req_t *req, const char *route, int status, const char *error, const char *detail)
{
    char buf[512];
    json_t *o = json_pack("{s:s, s:s}", "error", error, "detail", detail);
    char *s = json_dumps(o, JSON_COMPACT);
    snprintf(buf, sizeof(buf), "%s", s);
    free(s);
    json_decref(o);
    return respond_json(req, route, status, buf);
}

static bool is(h2o_req_t *req, const char *method, const char *path)
{
    return h2o_memis(req->method.base, req->method.len, method, strlen(method)) &&
           h2o_memis(req->path_normalized.base, req->path_normalized.len, path, strlen(path));
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
    pipeline_t *p = ctx;
    depth_acc_t acc = {0};
    rt_foreach_actor(p->rt, add_depth, &acc);
    sb_puts(out, "# HELP dispatchd_mailbox_depth Messages queued for each kind of actor.\n"
                 "# TYPE dispatchd_mailbox_depth gauge\n");
    for (int i = 0; i < acc.n; i++)
        sb_printf(out, "dispatchd_mailbox_depth{actor=\"%s\"} %ld\n", acc.names[i], acc.depth[i]);
}

void routes_init(http_app_t *app)
{
    if (app->p != NULL)
        metrics_add_hook(render_mailboxes, app->p);
}

void routes_free(http_app_t *app)
{
    (void)app;
    metrics_clear_hooks();
}

void routes_refresh_health(http_app_t *app)
{
    int db = PQping(app->cfg->database_url) == PQPING_OK;
    int kafka = 0;
    if (app->p != NULL && app->p->producer != NULL) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(app->p->producer, 0, NULL, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            kafka = md->broker_cnt > 0;
            rd_kafka_metadata_destroy(md);
        }
    }
    __atomic_store_n(&app->db_ok, db, __ATOMIC_RELAXED);
    __atomic_store_n(&app->kafka_ok, kafka, __ATOMIC_RELAXED);
}

int routes_dispatch(http_app_t *app, h2o_req_t *req)
{
    if (is(req, "GET", "/health"))
        return respond_json(req, "/health", 200, "{\"status\":\"ok\"}");
    if (is(req, "GET", "/ready")) {
        int k = __atomic_load_n(&app->kafka_ok, __ATOMIC_RELAXED);
        int d = __atomic_load_n(&app->db_ok, __ATOMIC_RELAXED);
        char body[128];
        snprintf(body, sizeof(body), "{\"ready\":%s,\"kafka\":%s,\"database\":%s}", k && d ? "true" : "false",
                 k ? "true" : "false", d ? "true" : "false");
        return respond_json(req, "/ready", k && d ? 200 : 503, body);
    }
    if (is(req, "GET", "/metrics")) {
        strbuf_t sb;
        sb_init(&sb);
        metrics_render(&sb);
        int rc = respond(req, "/metrics", 200, "text/plain; version=0.0.4", sb.data, sb.len);
        sb_free(&sb);
        return rc;
    }
    return respond_error(req, "other", 404, "not_found", "no such path");
}
