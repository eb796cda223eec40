/*
 * user_routes.c -- the user paths of CONTRACT section 5 under /repos/,
 * authenticated with an HS256 JWT whose `sub` is the user id:
 *   GET    /repos/{owner}/{repo}/sync-status   the user's sync of the repository
 *   DELETE /repos/{owner}/{repo}/sync          cancel it
 *   POST   /repos/{owner}/{repo}/sync          501: syncs are started with
 *                                              `dispatchd sync --from` for now
 * Answers come from the syncs actor, off the event loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "user_token.h"
#include "pipeline.h"
#include "routes.h"

static void on_answer(void *ctx, int status, const char *json)
{
    http_pending_complete(ctx, status, json);
}

/* The user id from "Authorization: Bearer <jwt>", or an answer. */
static bool user_of(http_app_t *app, h2o_req_t *req, const char *route, char *user, size_t ulen, int *rc)
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

/* /repos/{owner}/{repo}/{what}: false unless the path has that shape. */
static bool split(h2o_iovec_t path, char *owner, char *repo, char *what)
{
    if (path.len <= 7 || strncmp(path.base, "/repos/", 7) != 0 || path.len > 700)
        return false;
    char buf[704];
    snprintf(buf, sizeof(buf), "%.*s", (int)(path.len - 7), path.base + 7);
    char *a = buf, *b = strchr(a, '/'), *c = b ? strchr(b + 1, '/') : NULL;
    if (b == NULL || c == NULL || strchr(c + 1, '/') != NULL || b == a || c == b + 1 || c[1] == '\0')
        return false;
    *b = *c = '\0';
    if (strlen(a) >= 256 || strlen(b + 1) >= 256)
        return false;
    strcpy(owner, a);
    strcpy(repo, b + 1);
    snprintf(what, 32, "%s", c + 1);
    return true;
}

int user_route(http_app_t *app, h2o_req_t *req)
{
    char owner[256], repo[256], what[32], user[256];
    if (!split(req->path_normalized, owner, repo, what))
        return -1;
    const char *route;
    if (strcmp(what, "sync-status") == 0)
        route = "/repos/{owner}/{repo}/sync-status";
    else if (strcmp(what, "sync") == 0)
        route = "/repos/{owner}/{repo}/sync";
    else
        return -1;
    int rc = 0;
    if (!user_of(app, req, route, user, sizeof(user), &rc))
        return rc;
    bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    bool del = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE"));
    bool post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    if (strcmp(what, "sync-status") == 0 && !get)
        return http_respond_error(req, route, 405, "method_not_allowed", "use GET");
    if (strcmp(what, "sync") == 0 && post)
        return http_respond_error(req, route, 501, "not_implemented",
                                  "syncing from the GitHub API is not built yet; publish the issues with "
                                  "`dispatchd sync OWNER/REPO --from FILE.jsonl`");
    if (strcmp(what, "sync") == 0 && !del)
        return http_respond_error(req, route, 405, "method_not_allowed", "use DELETE to cancel, POST to start");
    if (app->p == NULL || __atomic_load_n(&app->p->stopping, __ATOMIC_ACQUIRE))
        return http_respond_error(req, route, 503, "shutting_down", "try again");
    sync_request_msg_t *q = rt_msg_new(sizeof(*q), MSG_SYNC_REQUEST);
    q->kind = get ? SYNC_STATUS : SYNC_CANCEL;
    snprintf(q->user, sizeof(q->user), "%s", user);
    snprintf(q->owner, sizeof(q->owner), "%s", owner);
    snprintf(q->repo, sizeof(q->repo), "%s", repo);
    q->reply = on_answer;
    q->ctx = http_pending_new(app, req, route);
    if (rt_send(app->p->syncs, q) != RT_OK) {
        http_pending_complete(q->ctx, 503, "{\"error\":\"busy\",\"detail\":\"sync queue full or stopping\"}");
        rt_msg_free(q);
    }
    return 0;
}
