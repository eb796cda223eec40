/*
 * user_routes.c -- the user paths under /repos/,
 * authenticated with an HS256 JWT whose `sub` is the user id:
 *   GET    /repos/{owner}/{repo}/sync-status   the user's sync of the repository
 *   DELETE /repos/{owner}/{repo}/sync          cancel it
 *   POST   /repos/{owner}/{repo}/sync[?force=true]  start a sync from the
 *                                              GitHub API (the github actor)
 * Answers come from the syncs and github actors, off the event loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "user_token.h"
#include "sync_requests.h"
#include "github_sync.h"
#include "gh_page.h"
#include "routes.h"

static void on_answer(void *ctx, int status, const char *json)
{
    http_pending_complete(ctx, status, json);
}

/* The user id from "Authorization: Bearer <jwt>", or an answer. */
bool http_user_of(http_app_t *app, h2o_req_t *req, const char *route, char *user, size_t ulen, int *rc)
{
    const char *secret = app->cfg->jwt_secret;
    if (secret == NULL || secret[0] == '\0') {
        *rc = http_respond_error(req, route, 403, "user_tokens_disabled", "DISPATCHD_JWT_SECRET is not set");
        return false;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0 || req->headers.entries[i].value.len <= 7 ||
        strncmp(req->headers.entries[i].value.base, "Bearer ", 7) != 0) {
        *rc = http_respond_error(req, route, 401, "unauthorized", "Authorization: Bearer <user JWT> required");
        return false;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    char err[128];
    if (user_token_verify(v.base + 7, v.len - 7, secret, (int64_t)time(NULL), app->cfg->jwt_leeway_s, user, ulen,
                          err, sizeof(err)) != 0) {
        *rc = http_respond_error(req, route, 401, "unauthorized", err);
        return false;
    }
    return true;
}

static int ask_syncs(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc, sync_request_kind_t kind)
{
    sync_request_msg_t *q = rt_msg_new(sizeof(*q), MSG_SYNC_REQUEST);
    q->kind = kind;
    snprintf(q->user, sizeof(q->user), "%s", rc->user);
    snprintf(q->owner, sizeof(q->owner), "%.*s", (int)rc->params.v[0].len, rc->params.v[0].base);
    snprintf(q->repo, sizeof(q->repo), "%.*s", (int)rc->params.v[1].len, rc->params.v[1].base);
    q->reply = on_answer;
    q->ctx = http_pending_new(app, req, rc->route);
    if (rt_send(app->pl->syncs, q) != RT_OK) {
        http_pending_complete(q->ctx, 503, "{\"error\":\"busy\",\"detail\":\"sync queue full or stopping\"}");
        rt_msg_free(q);
    }
    return 0;
}

int user_sync_status(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    return ask_syncs(app, req, rc, SYNC_STATUS);
}

int user_sync_cancel(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    return ask_syncs(app, req, rc, SYNC_CANCEL);
}

int user_sync_start(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    char owner[128], repo[128], force[8] = "";
    snprintf(owner, sizeof(owner), "%.*s", (int)rc->params.v[0].len, rc->params.v[0].base);
    snprintf(repo, sizeof(repo), "%.*s", (int)rc->params.v[1].len, rc->params.v[1].base);
    if (rc->params.v[0].len >= sizeof(owner) || rc->params.v[1].len >= sizeof(repo) || !gh_name_valid(owner, strlen(owner)) ||
        !gh_name_valid(repo, strlen(repo)))
        return http_respond_error(req, rc->route, 400, "bad_request", "not a GitHub owner/repository name");
    size_t pos = 0;
    int f = http_query_next(req, "force", &pos, force, sizeof(force));
    if (f < 0 || (f > 0 && strcmp(force, "true") != 0 && strcmp(force, "false") != 0))
        return http_respond_error(req, rc->route, 400, "bad_request", "force: true or false");
    if (app->pl->github == NULL)
        return http_respond_error(req, rc->route, 503, "unavailable", "syncs from GitHub are not running here");
    gh_sync_start_msg_t *m = rt_msg_new(sizeof(*m), MSG_GH_SYNC_START);
    snprintf(m->user, sizeof(m->user), "%s", rc->user);
    snprintf(m->owner, sizeof(m->owner), "%s", owner);
    snprintf(m->repo, sizeof(m->repo), "%s", repo);
    m->force = f > 0 && strcmp(force, "true") == 0;
    m->reply = on_answer;
    m->ctx = http_pending_new(app, req, rc->route);
    if (rt_send(app->pl->github, m) != RT_OK) {
        http_pending_complete(m->ctx, 503, "{\"error\":\"busy\",\"detail\":\"sync queue full or stopping\"}");
        rt_msg_free(m);
    }
    return 0;
}
