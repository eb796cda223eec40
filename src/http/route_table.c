/*
 * route_table.c -- the control plane's paths, in one table: method, path
 * template, who may call, and the handler. The template is also the
 * `route` label of the request metrics, so a path's parameters never
 * multiply the series.
 *
 * For a path that matches a template: the caller is checked first (401/403
 * before anything is said about methods), then the method (405 naming the
 * allowed ones), then whether the pipeline is still taking requests (503).
 */
#include <stdio.h>
#include <string.h>

#include "routes.h"

typedef enum { AUTH_NONE, AUTH_ADMIN, AUTH_USER } route_auth_t;

typedef struct route {
    const char *method;
    const char *path;             /* {name} matches one non-empty segment */
    route_auth_t auth;
    bool needs_pipeline;          /* 503 once the pipeline is stopping */
    route_fn fn;
} route_t;

static const route_t ROUTES[] = {
    {"GET", "/health", AUTH_NONE, false, route_health},
    {"GET", "/ready", AUTH_NONE, false, route_ready},
    {"GET", "/metrics", AUTH_NONE, false, route_metrics},
    {"GET", "/health/consistency", AUTH_NONE, true, route_consistency},
    {"GET", "/api/status", AUTH_NONE, true, route_status},
    {"GET", "/api/status/stream", AUTH_NONE, true, route_status_stream},
    {"GET", "/", AUTH_NONE, false, route_page},
    {"GET", "/static/{file}", AUTH_NONE, false, route_static},
    {"POST", "/webhook/github", AUTH_NONE, false, webhook_github},
    {"POST", "/admin/pause-processing", AUTH_ADMIN, true, admin_pause_processing},
    {"POST", "/admin/resume-processing", AUTH_ADMIN, true, admin_resume_processing},
    {"GET", "/admin/processing-status", AUTH_ADMIN, true, admin_processing_status},
    {"GET", "/admin/budget-status", AUTH_ADMIN, true, admin_budget_status},
    {"POST", "/api/admin/kafka/consumer-groups/{group}/pause", AUTH_ADMIN, true, admin_group_pause},
    {"POST", "/api/admin/kafka/consumer-groups/{group}/resume", AUTH_ADMIN, true, admin_group_resume},
    {"POST", "/api/admin/kafka/consumer-groups/{group}/reset-offsets", AUTH_ADMIN, true, admin_reset_offsets},
    {"GET", "/api/admin/kafka/consumer-groups/{group}/lag", AUTH_ADMIN, true, admin_group_lag},
    {"GET", "/api/admin/kafka/topics/{topic}/stats", AUTH_ADMIN, true, admin_topic_stats},
    {"GET", "/api/admin/dlq", AUTH_ADMIN, true, admin_dlq_list},
    {"POST", "/api/admin/dlq/replay", AUTH_ADMIN, true, admin_dlq_replay},
    {"GET", "/api/admin/dlq/replay/{job}", AUTH_ADMIN, true, admin_dlq_replay_job},
    {"GET", "/repos/{owner}/{repo}/sync-status", AUTH_USER, true, user_sync_status},
    {"POST", "/repos/{owner}/{repo}/sync", AUTH_USER, true, user_sync_start},
    {"DELETE", "/repos/{owner}/{repo}/sync", AUTH_USER, true, user_sync_cancel},
    /* its token may come in the query (browsers cannot set headers on a
     * WebSocket): the route checks it itself */
    {"GET", "/ws", AUTH_NONE, true, route_ws},
};
#define NROUTES (sizeof(ROUTES) / sizeof(ROUTES[0]))

#define PARAM_MAX_BYTES 250

/* Whether path fits the template; the {name} segments go to params. */
static bool match(const char *tmpl, h2o_iovec_t path, route_params_t *params)
{
    const char *p = path.base, *end = path.base + path.len;
    params->n = 0;
    while (*tmpl != '\0') {
        if (*tmpl == '{') {
            const char *close = strchr(tmpl, '}');
            const char *seg_end = memchr(p, '/', (size_t)(end - p));
            if (seg_end == NULL)
                seg_end = end;
            size_t len = (size_t)(seg_end - p);
            if (close == NULL || len == 0 || len >= PARAM_MAX_BYTES || params->n == ROUTE_MAX_PARAMS)
                return false;
            params->v[params->n++] = h2o_iovec_init(p, len);
            p = seg_end;
            tmpl = close + 1;
            continue;
        }
        if (p == end || *p != *tmpl)
            return false;
        p++;
        tmpl++;
    }
    return p == end;
}

static bool is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

int routes_dispatch(http_app_t *app, h2o_req_t *req)
{
    route_ctx_t rc = {0};
    const route_t *found = NULL, *same_path = NULL;
    char allowed[64] = "";
    for (size_t i = 0; i < NROUTES; i++) {
        route_params_t params;
        if (!match(ROUTES[i].path, req->path_normalized, &params))
            continue;
        if (same_path == NULL) {
            same_path = &ROUTES[i];
            rc.params = params;
        }
        size_t used = strlen(allowed);
        snprintf(allowed + used, sizeof(allowed) - used, "%s%s", used ? " or " : "", ROUTES[i].method);
        if (found == NULL && is_method(req, ROUTES[i].method)) {
            found = &ROUTES[i];
            rc.params = params;
        }
    }
    if (same_path == NULL)
        return http_respond_error(req, "other", 404, "not_found", "no such path");
    rc.route = same_path->path;
    int answered = 0;
    if (same_path->auth == AUTH_ADMIN && !http_admin_authorized(app, req, rc.route, &answered))
        return answered;
    if (same_path->auth == AUTH_USER && !http_user_of(app, req, rc.route, rc.user, sizeof(rc.user), &answered))
        return answered;
    if (found == NULL) {
        char detail[80];
        snprintf(detail, sizeof(detail), "use %s", allowed);
        return http_respond_error(req, rc.route, 405, "method_not_allowed", detail);
    }
    if (found->needs_pipeline &&
        (app->pl == NULL || __atomic_load_n(&app->pl->status->stopping, __ATOMIC_ACQUIRE)))
        return http_respond_error(req, rc.route, 503, "shutting_down", "try again");
    return found->fn(app, req, &rc);
}
