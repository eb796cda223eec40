/*
 * dlq_routes.c -- the DLQ's admin paths (bearer token):
 *
 *   GET  /api/admin/dlq?from=&to=&key=&error_class=&limit=&tail=   records' metadata
 *   POST /api/admin/dlq/replay {from, to, key, error_class, limit, dry_run}
 *   GET  /api/admin/dlq/replay/{job}                         a replay's progress
 *
 * A bad filter is a 400 naming it; the answers come from the DLQ actor
 * (dlq_jobs.h), off the event loop.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq_jobs.h"
#include "routes.h"

/* A replay answers with its counts if it ends this soon, else with its job. */
#define REPLAY_ANSWER_WITHIN_MS 2000

static void on_answer(void *ctx, int status, const char *json)
{
    http_pending_complete(ctx, status, json);
}

static int ask(http_app_t *app, h2o_req_t *req, const char *route, dlq_request_kind_t kind, const dlq_filter_t *f,
               const char *job_id)
{
    if (app->pl == NULL || app->pl->dlq == NULL)
        return http_respond_error(req, route, 503, "unavailable", "no pipeline in this process");
    dlq_request_msg_t *m = rt_msg_new(sizeof(*m), MSG_DLQ_REQUEST);
    m->kind = kind;
    if (f != NULL)
        m->filter = *f;
    snprintf(m->job_id, sizeof(m->job_id), "%s", job_id ? job_id : "");
    m->answer_within_ms = REPLAY_ANSWER_WITHIN_MS;
    m->reply = on_answer;
    m->ctx = http_pending_new(app, req, route);
    if (rt_send(app->pl->dlq, m) != RT_OK) {
        http_pending_complete(m->ctx, 503, "{\"error\":\"busy\",\"detail\":\"DLQ queue full or stopping\"}");
        rt_msg_free(m);
    }
    return 0;
}

int admin_dlq_list(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    dlq_filter_t f;
    dlq_filter_init(&f);
    char name[64], value[400], err[300];
    size_t pos = 0;
    int got;
    while ((got = http_query_each(req, &pos, name, sizeof(name), value, sizeof(value))) != 0) {
        if (got < 0)
            return http_respond_error(req, rc->route, 400, "bad_query", "a query parameter is malformed or too long");
        if (strcmp(name, "dry_run") == 0 || dlq_filter_set(&f, name, value, err, sizeof(err)) != 0)
            return http_respond_error(req, rc->route, 400, "bad_filter",
                                      strcmp(name, "dry_run") == 0 ? "dry_run: only for a replay" : err);
    }
    if (dlq_filter_check(&f, err, sizeof(err)) != 0)
        return http_respond_error(req, rc->route, 400, "bad_filter", err);
    if (f.limit > DLQ_LIST_MAX_LIMIT) {
        snprintf(err, sizeof(err), "limit: at most %d records a page (narrow the range)", DLQ_LIST_MAX_LIMIT);
        return http_respond_error(req, rc->route, 400, "bad_filter", err);
    }
    return ask(app, req, rc->route, DLQ_LIST, &f, NULL);
}

int admin_dlq_replay(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    dlq_filter_t f;
    dlq_filter_init(&f);
    char err[300];
    if (req->entity.len > 0) {
        json_error_t je;
        json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
        if (body == NULL)
            return http_respond_error(req, rc->route, 400, "bad_json", je.text);
        int bad = dlq_filter_set_json(&f, body, err, sizeof(err));
        json_decref(body);
        if (bad != 0)
            return http_respond_error(req, rc->route, 400, "bad_filter", err);
    }
    if (dlq_filter_check(&f, err, sizeof(err)) != 0)
        return http_respond_error(req, rc->route, 400, "bad_filter", err);
    return ask(app, req, rc->route, DLQ_REPLAY, &f, NULL);
}

int admin_dlq_replay_job(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    char id[40];
    h2o_iovec_t v = rc->params.v[0];
    if (v.len == 0 || v.len >= sizeof(id))
        return http_respond_error(req, rc->route, 404, "not_found", "no such replay job");
    memcpy(id, v.base, v.len);
    id[v.len] = '\0';
    return ask(app, req, rc->route, DLQ_JOB_STATUS, NULL, id);
}
