/*
 * status_page.c -- GET / and GET /static/{file}: the status page (its data
 * is GET /api/status). A strict Content-Security-Policy: scripts, styles
 * and connections from this origin only, nothing inline, no frames.
 */
#include <string.h>

#include "routes.h"
#include "status_page.h"

#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " \
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static int send_file(h2o_req_t *req, const char *route, const page_file_t *f)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL,
                          H2O_STRLIT(CSP));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL,
                          H2O_STRLIT("no-referrer"));
    return http_respond(req, route, 200, f->content_type, (const char *)f->bytes, f->len);
}

static const page_file_t *find(const char *name, size_t len)
{
    for (size_t i = 0; i < PAGE_FILES_N; i++)
        if (strlen(PAGE_FILES[i].name) == len && memcmp(PAGE_FILES[i].name, name, len) == 0)
            return &PAGE_FILES[i];
    return NULL;
}

int route_page(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    (void)app;
    return send_file(req, rc->route, find(H2O_STRLIT("status.html")));
}

int route_static(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    (void)app;
    h2o_iovec_t v = rc->params.v[0];
    const page_file_t *f = strncmp(v.base, "status.html", v.len) == 0 ? NULL : find(v.base, v.len);
    if (f == NULL)
        return http_respond_error(req, rc->route, 404, "not_found", "no such file");
    return send_file(req, rc->route, f);
}
