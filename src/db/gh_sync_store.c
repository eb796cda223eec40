/*
 * gh_sync_store.c -- see gh_sync_store.h.
 */
#include "gh_sync_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "strbuf.h"

/* Only a sync this process leases and that is still running is written:
 * a cancel (any process) or a takeover ends the writes of the old owner. */
#define OURS " WHERE sync_id = $1 AND lease_owner = $2 AND sync_status IN ('pending', 'syncing') AND fetching"

static char *dup_or_null(PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    char *s = strdup(PQgetvalue(r, row, col));
    if (s == NULL)
        abort();
    return s;
}

int gh_store_claim(PGconn *c, const char *lease_owner, int lease_s, const char *user, const char *owner,
                   const char *repo, gh_claimed_t *out, int max, char *err, size_t errlen)
{
    char lease[16], lim[16];
    snprintf(lease, sizeof(lease), "%d", lease_s);
    snprintf(lim, sizeof(lim), "%d", max);
    const char *v[6] = {lease_owner, lease, user, owner, repo, lim};
    PGresult *r = PQexecParams(
        c,
        "UPDATE dispatchai.repository_syncs s SET lease_owner = $1,"
        " lease_until = now() + make_interval(secs => $2::int), updated_at = now()"
        " WHERE s.id IN (SELECT id FROM dispatchai.repository_syncs WHERE fetching"
        "  AND sync_status IN ('pending', 'syncing') AND (lease_until IS NULL OR lease_until < now())"
        "  AND ($3::text IS NULL OR user_id = $3) AND ($4::text IS NULL OR repository_owner = $4)"
        "  AND ($5::text IS NULL OR repository_name = $5)"
        "  ORDER BY created_at LIMIT $6::int FOR UPDATE SKIP LOCKED)"
        " RETURNING sync_id, user_id, repository_owner, repository_name, issues_total, cursor::text,"
        "  issues_fetched, issues_published, issues_unchanged, prs_skipped, pages_fetched, rate_limit_waits",
        6, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "database: claim syncs", err, errlen);
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        gh_claimed_t *o = &out[i];
        memset(o, 0, sizeof(*o));
        snprintf(o->sync_id, sizeof(o->sync_id), "%s", PQgetvalue(r, i, 0));
        snprintf(o->user, sizeof(o->user), "%s", PQgetvalue(r, i, 1));
        snprintf(o->owner, sizeof(o->owner), "%s", PQgetvalue(r, i, 2));
        snprintf(o->repo, sizeof(o->repo), "%s", PQgetvalue(r, i, 3));
        o->total = atol(PQgetvalue(r, i, 4));
        o->cursor = dup_or_null(r, i, 5);
        o->counts = (gh_counts_t){atol(PQgetvalue(r, i, 6)),  atol(PQgetvalue(r, i, 7)),
                                  atol(PQgetvalue(r, i, 8)),  atol(PQgetvalue(r, i, 9)),
                                  atol(PQgetvalue(r, i, 10)), atol(PQgetvalue(r, i, 11))};
    }
    PQclear(r);
    return n;
}

static int updated(PGresult *r, const char *what, char *err, size_t errlen)
{
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_failed(r, what, err, errlen);
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    return n > 0 ? 1 : 0;
}

int gh_store_checkpoint(PGconn *c, const char *sync_id, const char *lease_owner, int lease_s, const char *cursor,
                        const gh_counts_t *n, char *err, size_t errlen)
{
    char lease[16], f[24], p[24], u[24], pr[24], pg[24];
    snprintf(lease, sizeof(lease), "%d", lease_s);
    snprintf(f, sizeof(f), "%ld", n->fetched);
    snprintf(p, sizeof(p), "%ld", n->published);
    snprintf(u, sizeof(u), "%ld", n->unchanged);
    snprintf(pr, sizeof(pr), "%ld", n->prs);
    snprintf(pg, sizeof(pg), "%ld", n->pages);
    const char *v[9] = {sync_id, lease_owner, lease, cursor, f, p, u, pr, pg};
    PGresult *r = PQexecParams(c,
                               "UPDATE dispatchai.repository_syncs SET sync_status = 'syncing', cursor = $4::jsonb,"
                               " issues_fetched = $5, issues_published = $6, issues_unchanged = $7,"
                               " prs_skipped = $8, pages_fetched = $9,"
                               " waiting_until = CASE WHEN waiting_until > now() THEN waiting_until END,"
                               " waiting_reason = CASE WHEN waiting_until > now() THEN waiting_reason END,"
                               " updated_at = now(),"
                               " lease_until = now() + make_interval(secs => $3::int)" OURS,
                               9, NULL, v, NULL, NULL, 0);
    return updated(r, "database: sync checkpoint", err, errlen);
}

int gh_store_wait(PGconn *c, const char *sync_id, const char *lease_owner, int lease_s, long long until_ms,
                  const char *reason, bool rate_limit, char *err, size_t errlen)
{
    char lease[16], until[32];
    snprintf(lease, sizeof(lease), "%d", lease_s);
    snprintf(until, sizeof(until), "%lld", until_ms);
    const char *v[6] = {sync_id, lease_owner, lease, until, reason, rate_limit ? "1" : "0"};
    /* The lease lasts the wait too. */
    PGresult *r = PQexecParams(c,
                               "UPDATE dispatchai.repository_syncs SET"
                               " waiting_until = to_timestamp($4::bigint / 1000.0),"
                               " waiting_reason = $5, rate_limit_waits = rate_limit_waits + $6::int,"
                               " updated_at = now(), lease_until = greatest(now() + make_interval(secs => $3::int),"
                               "  to_timestamp($4::bigint / 1000.0) + make_interval(secs => $3::int))" OURS,
                               6, NULL, v, NULL, NULL, 0);
    return updated(r, "database: sync wait", err, errlen);
}

int gh_store_running(PGconn *c, const char *sync_id, const char *lease_owner, char *err, size_t errlen)
{
    const char *v[2] = {sync_id, lease_owner};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM dispatchai.repository_syncs" OURS, 2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "database: sync status", err, errlen);
    int n = PQntuples(r);
    PQclear(r);
    return n > 0 ? 1 : 0;
}

int gh_store_renew(PGconn *c, const char *lease_owner, int lease_s, const char *const *sync_ids, int n, bool *gone,
                   char *err, size_t errlen)
{
    strbuf_t ids;
    sb_init(&ids);
    sb_puts(&ids, "{");
    for (int i = 0; i < n; i++)
        sb_printf(&ids, "%s\"%s\"", i ? "," : "", sync_ids[i]);
    sb_puts(&ids, "}");
    char lease[16];
    snprintf(lease, sizeof(lease), "%d", lease_s);
    const char *v[3] = {ids.data, lease_owner, lease};
    PGresult *r = PQexecParams(c,
                               "UPDATE dispatchai.repository_syncs SET"
                               " lease_until = greatest(lease_until, now() + make_interval(secs => $3::int))"
                               " WHERE sync_id = ANY($1::text[]) AND lease_owner = $2"
                               " AND sync_status IN ('pending', 'syncing') AND fetching RETURNING sync_id",
                               3, NULL, v, NULL, NULL, 0);
    sb_free(&ids);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "database: sync lease", err, errlen);
    for (int i = 0; i < n; i++) {
        gone[i] = true;
        for (int k = 0; k < PQntuples(r); k++)
            if (strcmp(PQgetvalue(r, k, 0), sync_ids[i]) == 0)
                gone[i] = false;
    }
    PQclear(r);
    return 0;
}

void gh_store_release(PGconn *c, const char *lease_owner)
{
    const char *v[1] = {lease_owner};
    PQclear(PQexecParams(c, "UPDATE dispatchai.repository_syncs SET lease_until = now() WHERE lease_owner = $1"
                            " AND fetching",
                         1, NULL, v, NULL, NULL, 0));
}

int gh_store_token_take(PGconn *c, const char *api_url, const char *holder, int busy_s, long long *wait_ms,
                        char *reason, size_t reason_len, bool *rate_limit, char *err, size_t errlen)
{
    char busy[16];
    snprintf(busy, sizeof(busy), "%d", busy_s);
    const char *v[3] = {api_url, holder, busy};
    /* One statement: the row made if new, taken if free and not held by a
     * limit; else how long until it may be. */
    PGresult *r = PQexecParams(
        c,
        "WITH ins AS (INSERT INTO dispatchai.github_tokens (api_url) VALUES ($1) ON CONFLICT DO NOTHING),"
        " up AS (UPDATE dispatchai.github_tokens SET holder = $2,"
        "  busy_until = now() + make_interval(secs => $3::int)"
        "  WHERE api_url = $1 AND (holder IS NULL OR holder = $2 OR busy_until < now())"
        "  AND (not_before IS NULL OR not_before <= now()) RETURNING 1)"
        " SELECT (SELECT count(*) FROM up),"
        "  (SELECT (extract(epoch FROM not_before - now()) * 1000)::bigint FROM dispatchai.github_tokens"
        "   WHERE api_url = $1 AND not_before > now()),"
        "  (SELECT reason FROM dispatchai.github_tokens WHERE api_url = $1),"
        "  (SELECT rate_limit FROM dispatchai.github_tokens WHERE api_url = $1)",
        3, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "database: token turn", err, errlen);
    int taken = atoi(PQgetvalue(r, 0, 0)) > 0;
    *wait_ms = 0;
    reason[0] = '\0';
    *rate_limit = false;
    if (!taken && !PQgetisnull(r, 0, 1)) {
        *wait_ms = atoll(PQgetvalue(r, 0, 1));
        snprintf(reason, reason_len, "%s", PQgetvalue(r, 0, 2));
        *rate_limit = PQgetvalue(r, 0, 3)[0] == 't';
    } else if (!taken) {
        *wait_ms = 50;   /* another process's request is in flight */
    }
    PQclear(r);
    return taken;
}

int gh_store_token_give(PGconn *c, const char *api_url, const char *holder, long long wait_ms, const char *reason,
                        bool rate_limit, char *err, size_t errlen)
{
    char wait[24];
    snprintf(wait, sizeof(wait), "%lld", wait_ms);
    const char *v[5] = {api_url, holder, wait, reason, rate_limit ? "t" : "f"};
    PGresult *r = PQexecParams(
        c,
        "UPDATE dispatchai.github_tokens SET holder = NULL, busy_until = NULL,"
        " not_before = CASE WHEN $3::bigint > 0 THEN now() + make_interval(secs => $3::bigint / 1000.0)"
        "  ELSE not_before END,"
        " reason = CASE WHEN $3::bigint > 0 THEN $4 ELSE reason END,"
        " rate_limit = CASE WHEN $3::bigint > 0 THEN $5::boolean ELSE rate_limit END"
        " WHERE api_url = $1 AND holder = $2",
        5, NULL, v, NULL, NULL, 0);
    return updated(r, "database: token turn", err, errlen) < 0 ? -1 : 0;
}

int gh_store_page_get(PGconn *c, const char *repository, const char *url, char **etag, char **after, char *err,
                      size_t errlen)
{
    *etag = NULL;
    if (after != NULL)
        *after = NULL;
    const char *v[2] = {repository, url};
    PGresult *r = PQexecParams(c,
                               "SELECT etag, after::text FROM dispatchai.github_pages"
                               " WHERE repository = $1 AND url = $2",
                               2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "database: page etag", err, errlen);
    if (PQntuples(r) == 1) {
        *etag = dup_or_null(r, 0, 0);
        if (after != NULL)
            *after = dup_or_null(r, 0, 1);
    }
    PQclear(r);
    return 0;
}

int gh_store_page_put(PGconn *c, const char *repository, const char *url, const char *etag, const char *after,
                      char *err, size_t errlen)
{
    const char *v[4] = {repository, url, etag, after};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO dispatchai.github_pages (repository, url, etag, after)"
                               " VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (repository, url) DO UPDATE"
                               " SET etag = EXCLUDED.etag, after = EXCLUDED.after, fetched_at = now()",
                               4, NULL, v, NULL, NULL, 0);
    return updated(r, "database: page etag", err, errlen) < 0 ? -1 : 0;
}

int gh_store_repo_get(PGconn *c, const char *repository, char **cursor, char *err, size_t errlen)
{
    *cursor = NULL;
    const char *v[1] = {repository};
    PGresult *r = PQexecParams(c, "SELECT cursor::text FROM dispatchai.github_repos WHERE repository = $1", 1, NULL,
                               v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "database: repository cursor", err, errlen);
    if (PQntuples(r) == 1)
        *cursor = dup_or_null(r, 0, 0);
    PQclear(r);
    return 0;
}

int gh_store_repo_put(PGconn *c, const char *repository, const char *cursor, const char *sync_id, char *err,
                      size_t errlen)
{
    const char *v[3] = {repository, cursor, sync_id};
    PGresult *r = PQexecParams(
        c,
        "WITH old AS (DELETE FROM dispatchai.github_pages WHERE repository = $1 AND fetched_at <"
        "  (SELECT fetch_started_at FROM dispatchai.repository_syncs WHERE sync_id = $3))"
        " INSERT INTO dispatchai.github_repos (repository, cursor) VALUES ($1, $2::jsonb)"
        " ON CONFLICT (repository) DO UPDATE SET cursor = EXCLUDED.cursor, synced_at = now()",
        3, NULL, v, NULL, NULL, 0);
    return updated(r, "database: repository cursor", err, errlen) < 0 ? -1 : 0;
}

int gh_store_known(PGconn *c, const long long *ids, int n, const char *sync_id, long long *stored_ms, bool *by_sync,
                   char *err, size_t errlen)
{
    strbuf_t list;
    sb_init(&list);
    sb_puts(&list, "{");
    for (int i = 0; i < n; i++)
        sb_printf(&list, "%s%lld", i ? "," : "", ids[i]);
    sb_puts(&list, "}");
    const char *v[2] = {list.data, sync_id};
    PGresult *r = PQexecParams(c,
                               "SELECT github_issue_id, (extract(epoch FROM updated_at) * 1000)::bigint,"
                               " last_sync_id IS NOT DISTINCT FROM $2 FROM dispatchai.issues"
                               " WHERE github_issue_id = ANY($1::bigint[])",
                               2, NULL, v, NULL, NULL, 0);
    sb_free(&list);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "database: stored versions", err, errlen);
    for (int i = 0; i < n; i++) {
        stored_ms[i] = -1;
        by_sync[i] = false;
    }
    for (int k = 0; k < PQntuples(r); k++) {
        long long id = atoll(PQgetvalue(r, k, 0));
        for (int i = 0; i < n; i++) {
            if (ids[i] != id)
                continue;
            stored_ms[i] = PQgetisnull(r, k, 1) ? -1 : atoll(PQgetvalue(r, k, 1));
            by_sync[i] = PQgetvalue(r, k, 2)[0] == 't';
        }
    }
    PQclear(r);
    return 0;
}
