/*
 * gh_page.h -- how a sync walks a repository's issues: pages of
 * GET /repos/{o}/{r}/issues?state=all&sort=updated&direction=asc, each
 * request the first page after a `since` cursor (the newest updated_at
 * taken so far), so an issue edited while the sync pages through moves
 * behind the cursor and is fetched again in its new version instead of
 * shifting another issue out of reach. GitHub's `since` includes the
 * instant itself: the issues already taken at that instant (the boundary)
 * are not taken twice. When a whole page shares one instant the cursor
 * cannot move, and the page's Link rel="next" is followed instead.
 * Pure: tested on its own (tests/unit/test_gh_page.c).
 */
#ifndef DISPATCHD_GH_PAGE_H
#define DISPATCHD_GH_PAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GH_PER_PAGE 100
#define GH_URL_MAX 2048
#define GH_BOUNDARY_MAX 10000     /* ids of one instant remembered; more: taken again */

typedef struct gh_cursor {
    char since[40];               /* updated_at of the newest issue taken; "" from the start */
    long long *boundary;          /* ids taken at exactly `since` */
    int nboundary, cap;
    char next_url[GH_URL_MAX];    /* a Link rel="next" to follow; "" for the first page after since */
    bool done;                    /* the last page was taken */
} gh_cursor_t;

void gh_cursor_init(gh_cursor_t *c);
void gh_cursor_free(gh_cursor_t *c);
void gh_cursor_copy(gh_cursor_t *dst, const gh_cursor_t *src);
/* {"since":..,"boundary":[..],"next_url":..,"done":..}; the caller frees. */
char *gh_cursor_dump(const gh_cursor_t *c);
/* 0, or -1 when json is not a cursor gh_cursor_dump wrote. */
int gh_cursor_load(gh_cursor_t *c, const char *json);
/* The search that counts a repository's issues (all states, no pull
 * requests: total_count); -1 when it does not fit. */
int gh_count_url(const char *api, const char *owner, const char *repo, char *url, size_t cap);
/* The next request's URL; -1 when it does not fit. */
int gh_cursor_url(const gh_cursor_t *c, const char *api, const char *owner, const char *repo, char *url, size_t cap);

typedef struct gh_item {
    json_t *issue;                /* borrowed from the page */
    long long id;
    long long number;
    const char *updated_at;       /* borrowed */
    long long updated_ms;
} gh_item_t;

typedef struct gh_page {
    json_t *root;
    gh_item_t *items;             /* the page's issues not taken before, in order */
    int n;
    int issues;                   /* issues in the page (boundary repeats included) */
    int prs;                      /* pull requests new in the page: skipped */
    int repeats;                  /* issues at the boundary, taken before */
    int invalid;                  /* objects that are neither (no id, number or updated_at) */
} gh_page_t;

/* Reads one page's body into p and moves cur past it; link_next is the
 * answer's rel="next" URL (NULL or "": the last page). 0, or -1 with err
 * when the body is not a JSON array (cur unchanged). */
int gh_page_take(gh_page_t *p, const char *body, size_t len, const char *link_next, gh_cursor_t *cur, char *err,
                 size_t errlen);
void gh_page_free(gh_page_t *p);

/* An owner or repository name as GitHub allows them (letters, digits,
 * '-', '_', '.'; 1..100 characters; not "." or ".."): safe in a URL path
 * as it is. */
bool gh_name_valid(const char *name, size_t len);

#endif
