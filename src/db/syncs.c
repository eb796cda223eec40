#include "syncs.h"
#include "schema.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Advisory locks in a key space of their own: (SYNC_LOCK_CLASS, hash). */
#define SYNC_LOCK_CLASS "74201"

const char *const SYNCS_LOCK_SHARED_SQL =
    "SELECT pg_advisory_xact_lock_shared(" SYNC_LOCK_CLASS ", hashtext(s)) FROM unnest($1::text[]) AS s";

static json_t *error_body(const char *error, const char *detail)
{
    return json_pack("{s:s, s:s}", "error", error, "detail", detail);
}

static void db_error(PGresult *r, PGconn *c, char *err, size_t errlen)
{
    const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
    snprintf(err, errlen, "database: %.*s", (int)strcspn(m, "\n"), m);
}

int syncs_register(PGconn *c, const sync_new_t *n, char *err, size_t errlen)
{
    char t[24], lease[24];
    snprintf(t, sizeof(t), "%ld", n->total);
    snprintf(lease, sizeof(lease), "%d", n->lease_s);
    bool github = n->cursor != NULL;
    const char *v[9] = {n->user, n->owner, n->repo, n->sync_id, t, github ? "github" : "file",
                        n->cursor, github ? n->lease_owner : NULL, lease};
    /* A finished sync's row is reused (the table is unique per user and
     * repository); a running one is not taken over. */
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO dispatchai.repository_syncs (user_id, repository_owner, repository_name, sync_id, sync_status,"
        " issues_total, source, fetching, cursor, fetch_started_at, lease_owner, lease_until)"
        " VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7::jsonb IS NOT NULL, $7::jsonb, now(), $8,"
        "  now() + make_interval(secs => $9::int))"
        " ON CONFLICT (user_id, repository_owner, repository_name) DO UPDATE SET sync_id = EXCLUDED.sync_id,"
        " sync_status = 'pending', issues_total = EXCLUDED.issues_total, issues_synced = 0, issues_classified = 0,"
        " error_message = NULL, created_at = now(), updated_at = now(), source = EXCLUDED.source,"
        " fetching = EXCLUDED.fetching, issues_fetched = 0, issues_published = 0, issues_unchanged = 0,"
        " prs_skipped = 0, pages_fetched = 0, rate_limit_waits = 0, waiting_until = NULL, waiting_reason = NULL,"
        " cursor = EXCLUDED.cursor, fetch_started_at = now(), lease_owner = EXCLUDED.lease_owner,"
        " lease_until = EXCLUDED.lease_until"
        " WHERE dispatchai.repository_syncs.sync_status NOT IN ('pending', 'syncing')"
        " RETURNING id",
        9, NULL, v, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        db_error(r, c, err, errlen);
        rc = -1;
    } else if (PQntuples(r) == 0) {
        snprintf(err, errlen,
                 "a sync of %s/%s by %s is still pending or syncing; cancel it first (DELETE /repos/%s/%s/sync)",
                 n->owner, n->repo, n->user, n->owner, n->repo);
        rc = -2;
    }
    PQclear(r);
    return rc;
}

int syncs_published(PGconn *c, const char *sync_id, long published, const char *error, char *err, size_t errlen)
{
    char n[24];
    snprintf(n, sizeof(n), "%ld", published);
    const char *v[3] = {sync_id, n, error};
    /* The storage actors may have counted every event already. */
    PGresult *r = PQexecParams(
        c,
        "UPDATE dispatchai.repository_syncs SET issues_total = $2, updated_at = now(), error_message = $3,"
        " fetching = false, waiting_until = NULL, waiting_reason = NULL, lease_owner = NULL,"
        " sync_status = CASE WHEN sync_status NOT IN ('pending', 'syncing') THEN sync_status"
        "   WHEN $3::text IS NOT NULL THEN 'failed'"
        "   WHEN issues_synced >= $2 THEN 'completed' ELSE 'syncing' END"
        " WHERE sync_id = $1",
        3, NULL, v, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        db_error(r, c, err, errlen);
    PQclear(r);
    return rc;
}

json_t *syncs_status(PGconn *c, const char *user, const char *owner, const char *repo, int *status)
{
    const char *v[3] = {user, owner, repo};
    PGresult *r = PQexecParams(
        c,
        "SELECT json_build_object('sync_id', sync_id, 'repository', repository_owner || '/' || repository_name,"
        " 'user_id', user_id, 'sync_status', sync_status, 'issues_total', issues_total,"
        " 'issues_synced', issues_synced, 'issues_classified', issues_classified, 'error_message', error_message,"
        " 'progress', CASE WHEN issues_total > 0 THEN round(100.0 * issues_synced / issues_total, 1) ELSE 0 END,"
        " 'created_at', created_at, 'updated_at', updated_at, 'source', source, 'fetching', fetching,"
        " 'issues_fetched', issues_fetched, 'issues_published', issues_published,"
        " 'issues_unchanged', issues_unchanged, 'prs_skipped', prs_skipped, 'pages_fetched', pages_fetched,"
        " 'rate_limit_waits', rate_limit_waits,"
        " 'waiting_until', CASE WHEN waiting_until > now() THEN waiting_until END,"
        " 'waiting_reason', CASE WHEN waiting_until > now() THEN waiting_reason END,"
        /* the rest at the rate so far, plus a wait in force */
        " 'eta_seconds', CASE WHEN sync_status NOT IN ('pending', 'syncing') THEN 0"
        "   WHEN fetching AND issues_fetched > 0 THEN round(greatest(issues_total - issues_fetched, 0)"
        "    * extract(epoch FROM now() - fetch_started_at) / issues_fetched"
        "    + greatest(extract(epoch FROM coalesce(waiting_until, now()) - now()), 0))"
        "   WHEN NOT fetching AND issues_synced > 0 THEN round(greatest(issues_total - issues_synced, 0)"
        "    * extract(epoch FROM now() - created_at) / issues_synced) END)::text"
        " FROM dispatchai.repository_syncs WHERE user_id = $1 AND repository_owner = $2 AND repository_name = $3",
        3, NULL, v, NULL, NULL, 0);
    json_t *out;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        *status = 503;
        out = error_body("database_unavailable", PQresultErrorMessage(r));
    } else if (PQntuples(r) == 0) {
        *status = 404;
        out = error_body("not_found", "no sync of this repository by this user");
    } else {
        *status = 200;
        out = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    }
    PQclear(r);
    return out;
}

json_t *syncs_cancel(PGconn *c, const char *user, const char *owner, const char *repo, int *status, char *sync_id)
{
    const char *v[3] = {user, owner, repo};
    *status = 503;
    if (!pg_command(c, "BEGIN"))
        return error_body("database_unavailable", PQerrorMessage(c));
    /* The sync's lock first (see SYNCS_LOCK_SHARED_SQL), then its row. */
    PGresult *l = PQexecParams(c,
                               "SELECT pg_advisory_xact_lock(" SYNC_LOCK_CLASS ", hashtext(sync_id))"
                               " FROM dispatchai.repository_syncs"
                               " WHERE user_id = $1 AND repository_owner = $2 AND repository_name = $3",
                               3, NULL, v, NULL, NULL, 0);
    bool locked = PQresultStatus(l) == PGRES_TUPLES_OK;
    PQclear(l);
    if (!locked) {
        json_t *e = error_body("database_unavailable", PQerrorMessage(c));
        pg_command(c, "ROLLBACK");
        return e;
    }
    PGresult *r = PQexecParams(c,
                               "SELECT sync_id, sync_status FROM dispatchai.repository_syncs"
                               " WHERE user_id = $1 AND repository_owner = $2 AND repository_name = $3 FOR UPDATE",
                               3, NULL, v, NULL, NULL, 0);
    json_t *out = NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        out = error_body("database_unavailable", PQresultErrorMessage(r));
    } else if (PQntuples(r) == 0) {
        *status = 404;
        out = error_body("not_found", "no sync of this repository by this user");
    } else if (strcmp(PQgetvalue(r, 0, 1), "pending") != 0 && strcmp(PQgetvalue(r, 0, 1), "syncing") != 0) {
        char detail[128];
        snprintf(detail, sizeof(detail), "the sync is %s; only a pending or syncing sync can be cancelled",
                 PQgetvalue(r, 0, 1));
        *status = 400;
        out = error_body("not_cancellable", detail);
    } else {
        snprintf(sync_id, 64, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    if (out != NULL) {
        pg_command(c, "ROLLBACK");
        return out;
    }
    /* dispatchd's own delete: not one behind its back (schema 9). */
    pg_command(c, "SET LOCAL dispatchd.deleting = 'sync cancel'");
    PGresult *del = PQexecParams(
        c,
        "DELETE FROM dispatchai.issues i WHERE i.repository_owner = $2 AND i.repository_name = $3"
        " AND i.sync_source = 'manual_pull' AND i.pulled_by_user_id = $1"
        " AND NOT EXISTS (SELECT 1 FROM dispatchai.enriched_issues e WHERE e.issue_id = i.id)",
        3, NULL, v, NULL, NULL, 0);
    PGresult *kept = PQexecParams(
        c,
        "SELECT count(*) FROM dispatchai.issues i JOIN dispatchai.enriched_issues e ON e.issue_id = i.id"
        " WHERE i.repository_owner = $2 AND i.repository_name = $3 AND i.sync_source = 'manual_pull'"
        " AND i.pulled_by_user_id = $1",
        3, NULL, v, NULL, NULL, 0);
    const char *sv[1] = {sync_id};
    char repo_full[520];
    snprintf(repo_full, sizeof(repo_full), "%s/%s", owner, repo);
    PGresult *upd = PQexecParams(c,
                                 "UPDATE dispatchai.repository_syncs SET sync_status = 'cancelled', updated_at = now(),"
                                 " fetching = false, waiting_until = NULL, lease_owner = NULL WHERE sync_id = $1",
                                 1, NULL, sv, NULL, NULL, 0);
    /* The removed issues must be fetched again by the next sync: it starts
     * from scratch, without conditional requests. */
    const char *rv[1] = {repo_full};
    PGresult *fresh = PQexecParams(c,
                                   "WITH p AS (DELETE FROM dispatchai.github_pages WHERE repository = $1)"
                                   " DELETE FROM dispatchai.github_repos WHERE repository = $1",
                                   1, NULL, rv, NULL, NULL, 0);
    bool ok = PQresultStatus(fresh) == PGRES_COMMAND_OK && PQresultStatus(del) == PGRES_COMMAND_OK &&
              PQresultStatus(kept) == PGRES_TUPLES_OK && PQresultStatus(upd) == PGRES_COMMAND_OK &&
              pg_command(c, "COMMIT");
    if (ok) {
        *status = 200;
        out = json_pack("{s:b, s:s, s:I, s:I, s:s}", "success", 1, "message", "sync cancelled", "issues_removed",
                        (json_int_t)atoll(PQcmdTuples(del)), "issues_classified",
                        (json_int_t)atoll(PQgetvalue(kept, 0, 0)), "sync_id", sync_id);
    } else {
        out = error_body("database_unavailable", PQerrorMessage(c));
        pg_command(c, "ROLLBACK");
    }
    PQclear(del);
    PQclear(kept);
    PQclear(upd);
    PQclear(fresh);
    return out;
}

json_t *syncs_in_progress(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = PQexec(
        c, "SELECT coalesce(json_agg(json_build_object('sync_id', sync_id, 'repository', repository_owner || '/' ||"
           " repository_name, 'status', sync_status, 'source', source, 'issues_total', issues_total,"
           " 'issues_fetched', issues_fetched, 'issues_synced', issues_synced, 'issues_classified', issues_classified,"
           " 'waiting_until', waiting_until, 'created_at', created_at) ORDER BY created_at), '[]')"
           " FROM dispatchai.repository_syncs WHERE sync_status IN ('pending', 'syncing')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        pg_failed(r, "syncs in progress", err, errlen);
        return NULL;
    }
    json_t *list = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (list == NULL)
        snprintf(err, errlen, "syncs in progress: unreadable answer");
    return list;
}
