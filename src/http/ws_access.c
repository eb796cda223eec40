/*
 * ws_access.c -- see ws_access.h.
 */
#include "ws_access.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh_page.h"

void ws_access_init(ws_access_t *a, bool admin, const char *user)
{
    memset(a, 0, sizeof(*a));
    a->admin = admin;
    if (!admin && user != NULL)
        snprintf(a->user, sizeof(a->user), "%s", user);
}

void ws_access_free(ws_access_t *a)
{
    for (int i = 0; i < a->nclaims; i++)
        free(a->claims[i]);
    for (int i = 0; i < a->nnarrow; i++)
        free(a->narrow[i]);
    free(a->claims);
    free(a->narrow);
    a->claims = a->narrow = NULL;
    a->nclaims = a->nnarrow = 0;
}

/* "owner/repo", or with allow_star "owner/\*"; *star tells which. */
static bool repo_ok(const char *s, bool allow_star, bool *star)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (slash == NULL || strlen(s) >= WS_ACCESS_NAME_MAX)
        return false;
    *star = strcmp(slash + 1, "*") == 0;
    if (*star)
        return allow_star && gh_name_valid(s, (size_t)(slash - s));
    return gh_name_valid(s, (size_t)(slash - s)) && gh_name_valid(slash + 1, strlen(slash + 1));
}

/* GitHub names are case-insensitive. */
static bool claim_matches(const char *claim, const char *repo)
{
    const char *cs = strchr(claim, '/'), *rs = strchr(repo, '/');
    if (cs == NULL || rs == NULL || cs - claim != rs - repo || strncasecmp(claim, repo, (size_t)(cs - claim)) != 0)
        return false;
    return strcmp(cs + 1, "*") == 0 || strcasecmp(cs + 1, rs + 1) == 0;
}

static bool any_matches(char *const *list, int n, const char *repo)
{
    for (int i = 0; i < n; i++)
        if (claim_matches(list[i], repo))
            return true;
    return false;
}

static bool claimed(const ws_access_t *a, const char *repo)
{
    return a->admin || any_matches(a->claims, a->nclaims, repo);
}

/* Appends a checked name to one of the lists; `what` names it in errors. */
static int append(char ***list, int *n, const char *name, bool allow_star, const char *what,
                  char *err, size_t errlen)
{
    bool star;
    if (!repo_ok(name, allow_star, &star)) {
        snprintf(err, errlen, "%s: \"%.80s\" is not owner/repo%s", what, name ? name : "",
                 allow_star ? " or owner/*" : "");
        return -1;
    }
    if (*n == WS_ACCESS_MAX_REPOS) {
        snprintf(err, errlen, "%s: more than %d entries", what, WS_ACCESS_MAX_REPOS);
        return -1;
    }
    char **grown = realloc(*list, (size_t)(*n + 1) * sizeof(**list));
    char *copy = strdup(name);
    if (grown == NULL || copy == NULL)
        abort();
    *list = grown;
    grown[(*n)++] = copy;
    return 0;
}

int ws_access_add_claim(ws_access_t *a, const char *pattern, char *err, size_t errlen)
{
    return append(&a->claims, &a->nclaims, pattern, true, "repos claim", err, errlen);
}

int ws_access_add_claims_json(ws_access_t *a, const char *json, char *err, size_t errlen)
{
    if (json == NULL)
        return 0;
    json_t *arr = json_loads(json, JSON_DECODE_ANY, NULL);
    int rc = 0;
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "repos claim: not a list of owner/repo strings");
        rc = -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (rc != 0)
            break;
        if (!json_is_string(v)) {
            snprintf(err, errlen, "repos claim: entry %zu is not a string", i);
            rc = -1;
        } else {
            rc = ws_access_add_claim(a, json_string_value(v), err, errlen);
        }
    }
    json_decref(arr);
    return rc;
}

int ws_access_add_narrow(ws_access_t *a, const char *repo, char *err, size_t errlen)
{
    return append(&a->narrow, &a->nnarrow, repo, false, "repo", err, errlen);
}

static bool narrowed_in(const ws_access_t *a, const char *repo)
{
    return a->nnarrow == 0 || any_matches(a->narrow, a->nnarrow, repo);
}

static bool own(const ws_access_t *a, const char *event_user)
{
    return !a->admin && a->user[0] != '\0' && event_user != NULL && strcmp(a->user, event_user) == 0;
}

bool ws_access_sees_issue(const ws_access_t *a, const char *repo, const char *event_user)
{
    if (repo == NULL || !narrowed_in(a, repo))
        return false;
    return claimed(a, repo) || own(a, event_user);
}

bool ws_access_sees_sync(const ws_access_t *a, const char *repo, const char *sync_user)
{
    if (repo == NULL || !narrowed_in(a, repo))
        return false;
    return a->admin || own(a, sync_user);
}
