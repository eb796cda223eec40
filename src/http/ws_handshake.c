/*
 * ws_handshake.c -- what GET /ws checks before an upgrade (see
 * ws_handshake.h): the caller's token, the Origin, the ?repo= filters,
 * and the accept key of the answer.
 */
#include "ws_handshake.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "user_token.h"

static bool origin_allowed(http_app_t *app, h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i < 0)
        return true;   /* not a browser: a browser always sends one */
    h2o_iovec_t o = req->headers.entries[i].value;
    /* The control plane's own pages. */
    if (o.len > 7 && strncmp(o.base, "http://", 7) == 0 && h2o_memis(o.base + 7, o.len - 7, req->authority.base,
                                                                       req->authority.len))
        return true;
    const char *list = app->cfg->ws_allowed_origins;
    while (list != NULL && *list != '\0') {
        list += strspn(list, " ,");
        size_t n = strcspn(list, ",");
        size_t t = n;
        while (t > 0 && list[t - 1] == ' ')
            t--;
        if (t > 0 && h2o_memis(o.base, o.len, list, t))
            return true;
        list += n;
    }
    return false;
}

/* The token from ?token= or Authorization: Bearer. */
static h2o_iovec_t token_of(h2o_req_t *req)
{
    if (req->query_at != SIZE_MAX) {
        const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
        while (q < end) {
            const char *amp = memchr(q, '&', (size_t)(end - q));
            const char *stop = amp ? amp : end;
            if (stop - q > 6 && strncmp(q, "token=", 6) == 0)
                return h2o_iovec_init(q + 6, (size_t)(stop - q - 6));
            q = amp ? amp + 1 : end;
        }
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i >= 0 && req->headers.entries[i].value.len > 7 && strncmp(req->headers.entries[i].value.base, "Bearer ", 7) == 0)
        return h2o_iovec_init(req->headers.entries[i].value.base + 7, req->headers.entries[i].value.len - 7);
    return h2o_iovec_init(NULL, 0);
}

/* Who is calling: the admin token or a user token; false: answered. */
static bool caller(http_app_t *app, h2o_req_t *req, const char *route, ws_access_t *access, int64_t *exp_s, int *rc)
{
    h2o_iovec_t t = token_of(req);
    if (t.len == 0) {
        *rc = http_respond_error(req, route, 401, "unauthorized", "a token is required: ?token=JWT");
        return false;
    }
    const char *admin = app->cfg->admin_token;
    if (admin != NULL && admin[0] != '\0' && t.len == strlen(admin) && CRYPTO_memcmp(t.base, admin, t.len) == 0) {
        ws_access_init(access, true, NULL);
        *exp_s = 0;
        return true;
    }
    const char *secret = app->cfg->jwt_secret;
    if (secret == NULL || secret[0] == '\0') {
        *rc = http_respond_error(req, route, 401, "unauthorized",
                                 "user tokens are disabled: DISPATCHD_JWT_SECRET is not set");
        return false;
    }
    user_token_t ut;
    char err[200];
    if (user_token_read(t.base, t.len, secret, (int64_t)time(NULL), app->cfg->jwt_leeway_s, &ut, err, sizeof(err)) != 0) {
        *rc = http_respond_error(req, route, 401, "unauthorized", err);
        return false;
    }
    ws_access_init(access, false, ut.sub);
    *exp_s = ut.exp;
    int bad = ws_access_add_claims_json(access, ut.repos_json, err, sizeof(err));
    user_token_clear(&ut);
    if (bad != 0) {
        ws_access_free(access);
        *rc = http_respond_error(req, route, 401, "unauthorized", err);
        return false;
    }
    return true;
}

/* ?repo=owner/repo, repeatable: narrows what this socket gets. */
static bool filters(h2o_req_t *req, const char *route, ws_access_t *access, int *rc)
{
    size_t pos = 0;
    char repo[WS_ACCESS_NAME_MAX], err[200];
    int got;
    while ((got = http_query_next(req, "repo", &pos, repo, sizeof(repo))) != 0) {
        if (got < 0) {
            *rc = http_respond_error(req, route, 400, "bad_request", "repo: not owner/repo");
            return false;
        }
        if (ws_access_add_narrow(access, repo, err, sizeof(err)) != 0) {
            *rc = http_respond_error(req, route, 400, "bad_request", err);
            return false;
        }
    }
    return true;
}

void ws_handshake_accept_key(const char *client_key, char out[29])
{
    static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t src[24 + sizeof(GUID) - 1], sha[SHA_DIGEST_LENGTH];
    memcpy(src, client_key, 24);
    memcpy(src + 24, GUID, sizeof(GUID) - 1);
    SHA1(src, sizeof(src), sha);
    h2o_base64_encode(out, sha, sizeof(sha), 0);
    out[28] = '\0';
}

bool ws_handshake_check(http_app_t *app, h2o_req_t *req, const char *route, ws_access_t *access, int64_t *exp_s,
                        int *rc)
{
    if (!caller(app, req, route, access, exp_s, rc))
        return false;
    if (!origin_allowed(app, req)) {
        *rc = http_respond_error(req, route, 403, "forbidden_origin", "this Origin may not open /ws");
    } else if (filters(req, route, access, rc)) {
        return true;
    }
    ws_access_free(access);
    return false;
}
