/*
 * ws_access.h -- who may see what on GET /ws. A user token's `repos` claim
 * lists the repositories its holder may watch, each "owner/repo" or
 * "owner/\*"; the holder also sees the events of their own syncs; the admin
 * token sees everything. A client narrows further with ?repo=owner/repo
 * (repeatable): a filter only ever removes events, never adds any. sync_* messages go to the
 * sync's user only (and to the admin). Pure, tested on its own
 * (tests/unit/test_ws_access.c).
 */
#ifndef DISPATCHD_WS_ACCESS_H
#define DISPATCHD_WS_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

#define WS_ACCESS_MAX_REPOS 64       /* patterns in one token, narrowing filters per client */
#define WS_ACCESS_NAME_MAX 200       /* "owner/repo" at most */

/* The lists are allocated as entries arrive: an idle connection with a
 * one-repository claim holds a few dozen bytes of them, not the maximum. */
typedef struct ws_access {
    bool admin;
    char user[128];                  /* the token's subject; "" for the admin */
    int nclaims;
    char **claims;                   /* owner/repo or owner/\* */
    int nnarrow;
    char **narrow;                   /* owner/repo, exact */
} ws_access_t;

/* A user's access (admin: false) or the admin's (user ignored). */
void ws_access_init(ws_access_t *a, bool admin, const char *user);
void ws_access_free(ws_access_t *a);
/* One entry of the `repos` claim; -1 with err for a malformed one (the
 * token is then refused: a claim that cannot be read grants nothing). */
int ws_access_add_claim(ws_access_t *a, const char *pattern, char *err, size_t errlen);
/* The token's `repos` claim as JSON text (an array of strings; NULL: no
 * claim, no repositories); -1 with err when it is anything else or an entry
 * is malformed. */
int ws_access_add_claims_json(ws_access_t *a, const char *json, char *err, size_t errlen);
/* One ?repo= filter; -1 with err when malformed (the upgrade is then
 * refused with 400). */
int ws_access_add_narrow(ws_access_t *a, const char *repo, char *err, size_t errlen);

/* Whether an issue or classification event of `repo` ("owner/repo") goes
 * to this client; event_user is the user whose sync brought the issue
 * ("" when none). */
bool ws_access_sees_issue(const ws_access_t *a, const char *repo, const char *event_user);
/* Whether a sync_* event of `repo`, started by sync_user, goes to it. */
bool ws_access_sees_sync(const ws_access_t *a, const char *repo, const char *sync_user);

#endif
