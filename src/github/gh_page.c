/*
 * gh_page.c -- see gh_page.h.
 */
#include "gh_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

void gh_cursor_init(gh_cursor_t *c)
{
    memset(c, 0, sizeof(*c));
}

void gh_cursor_free(gh_cursor_t *c)
{
    free(c->boundary);
    gh_cursor_init(c);
}

static void boundary_add(gh_cursor_t *c, long long id)
{
    if (c->nboundary >= GH_BOUNDARY_MAX)
        return;
    if (c->nboundary == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 128;
        c->boundary = realloc(c->boundary, (size_t)c->cap * sizeof(*c->boundary));
        if (c->boundary == NULL)
            abort();
    }
    c->boundary[c->nboundary++] = id;
}

static bool boundary_has(const gh_cursor_t *c, long long id)
{
    for (int i = 0; i < c->nboundary; i++)
        if (c->boundary[i] == id)
            return true;
    return false;
}

void gh_cursor_copy(gh_cursor_t *dst, const gh_cursor_t *src)
{
    gh_cursor_free(dst);
    *dst = *src;
    dst->boundary = NULL;
    dst->nboundary = dst->cap = 0;
    for (int i = 0; i < src->nboundary; i++)
        boundary_add(dst, src->boundary[i]);
}

char *gh_cursor_dump(const gh_cursor_t *c)
{
    json_t *ids = json_array();
    for (int i = 0; i < c->nboundary; i++)
        json_array_append_new(ids, json_integer(c->boundary[i]));
    json_t *j = json_pack("{s:s, s:o, s:s, s:b}", "since", c->since, "boundary", ids, "next_url", c->next_url,
                          "done", c->done);
    char *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return out;
}

int gh_cursor_load(gh_cursor_t *c, const char *text)
{
    gh_cursor_free(c);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    const char *since = json_string_value(json_object_get(j, "since"));
    const char *next = json_string_value(json_object_get(j, "next_url"));
    json_t *ids = json_object_get(j, "boundary");
    if (since == NULL || next == NULL || !json_is_array(ids) || strlen(since) >= sizeof(c->since) ||
        strlen(next) >= sizeof(c->next_url)) {
        json_decref(j);
        return -1;
    }
    snprintf(c->since, sizeof(c->since), "%s", since);
    snprintf(c->next_url, sizeof(c->next_url), "%s", next);
    c->done = json_is_true(json_object_get(j, "done"));
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
        boundary_add(c, (long long)json_integer_value(id));
    json_decref(j);
    return 0;
}

/* The API's base URL without trailing slashes. */
static int api_len(const char *api)
{
    size_t n = strlen(api);
    while (n > 0 && api[n - 1] == '/')
        n--;
    return (int)n;
}

int gh_count_url(const char *api, const char *owner, const char *repo, char *url, size_t cap)
{
    int n = snprintf(url, cap, "%.*s/search/issues?q=repo:%s/%s+is:issue&per_page=1", api_len(api), api, owner, repo);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int gh_cursor_url(const gh_cursor_t *c, const char *api, const char *owner, const char *repo, char *url, size_t cap)
{
    int n;
    if (c->next_url[0] != '\0') {
        n = snprintf(url, cap, "%s", c->next_url);
    } else {
        /* An updated_at holds only digits, '-', 'T', ':' and 'Z': only ':'
         * needs escaping in a query. */
        char since[3 * sizeof(c->since)];
        size_t k = 0;
        for (const char *p = c->since; *p; p++) {
            if (*p == ':') {
                memcpy(since + k, "%3A", 3);
                k += 3;
            } else {
                since[k++] = *p;
            }
        }
        since[k] = '\0';
        n = snprintf(url, cap, "%.*s/repos/%s/%s/issues?state=all&per_page=%d&sort=updated&direction=asc%s%s",
                     api_len(api), api, owner, repo, GH_PER_PAGE, k ? "&since=" : "", since);
    }
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int gh_page_take(gh_page_t *p, const char *body, size_t len, const char *link_next, gh_cursor_t *cur, char *err,
                 size_t errlen)
{
    memset(p, 0, sizeof(*p));
    json_error_t je;
    p->root = json_loadb(body, len, 0, &je);
    if (!json_is_array(p->root)) {
        char where[128] = "not an array";
        if (p->root == NULL)
            json_error_brief(&je, where, sizeof(where));
        snprintf(err, errlen, "GitHub answered a page that is not a JSON array of issues (%s)", where);
        gh_page_free(p);
        return -1;
    }
    size_t n = json_array_size(p->root);
    p->items = calloc(n ? n : 1, sizeof(*p->items));
    if (p->items == NULL)
        abort();
    const char *newest = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(p->root, i);
        json_t *id = json_object_get(it, "id"), *num = json_object_get(it, "number");
        const char *upd = json_string_value(json_object_get(it, "updated_at"));
        if (!json_is_integer(id) || !json_is_integer(num) || upd == NULL || strlen(upd) >= sizeof(cur->since) ||
            iso8601_to_ms(upd) < 0) {
            p->invalid++;
            continue;
        }
        if (newest == NULL || strcmp(upd, newest) > 0)
            newest = upd;
        bool pr = json_object_get(it, "pull_request") != NULL;
        bool repeat = strcmp(upd, cur->since) == 0 && boundary_has(cur, (long long)json_integer_value(id));
        p->issues += !pr;
        if (pr) {
            p->prs += !repeat;   /* a repeated one was counted on its first page */
            continue;
        }
        if (repeat) {
            p->repeats++;
            continue;
        }
        p->items[p->n++] = (gh_item_t){it, (long long)json_integer_value(id), (long long)json_integer_value(num),
                                       upd, iso8601_to_ms(upd)};
    }
    /* Where the next request goes. */
    if (link_next == NULL || link_next[0] == '\0' || n == 0) {
        cur->done = true;
        cur->next_url[0] = '\0';
    } else if (newest != NULL && strcmp(newest, cur->since) > 0) {
        snprintf(cur->since, sizeof(cur->since), "%s", newest);
        cur->nboundary = 0;
        cur->next_url[0] = '\0';
    } else {
        snprintf(cur->next_url, sizeof(cur->next_url), "%s", link_next);
    }
    /* Every object of the newest instant is remembered, pull requests
     * too: the next page repeats them. */
    if (newest != NULL && strcmp(newest, cur->since) == 0) {
        for (size_t i = 0; i < n; i++) {
            json_t *it = json_array_get(p->root, i);
            const char *upd = json_string_value(json_object_get(it, "updated_at"));
            long long id = (long long)json_integer_value(json_object_get(it, "id"));
            if (upd != NULL && strcmp(upd, newest) == 0 && !boundary_has(cur, id))
                boundary_add(cur, id);
        }
    }
    return 0;
}

void gh_page_free(gh_page_t *p)
{
    json_decref(p->root);
    free(p->items);
    memset(p, 0, sizeof(*p));
}

bool gh_name_valid(const char *name, size_t n)
{
    if (n == 0 || n > 100 || (n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.'))
            return false;
    }
    return true;
}
