#include "llm_quota.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int quota_bucket_lease(PGconn *c, const char *name, double capacity, double rate_per_s, double least, double want,
                       double settle, double *granted, long *pause_ms, char *err, size_t errlen)
{
    char cap[32], rate[32], lst[32], wnt[32], stl[32];
    snprintf(cap, sizeof(cap), "%.6f", capacity);
    snprintf(rate, sizeof(rate), "%.6f", rate_per_s);
    snprintf(lst, sizeof(lst), "%.6f", least);
    snprintf(wnt, sizeof(wnt), "%.6f", want);
    snprintf(stl, sizeof(stl), "%.6f", settle);
    const char *v[6] = {name, cap, rate, lst, wnt, stl};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO dispatchai.llm_rate_buckets (name, tokens, updated_at)"
                               " VALUES ($1, $2::float8, now()) ON CONFLICT (name) DO NOTHING",
                               2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_failed(r, "rate bucket", err, errlen);
    PQclear(r);
    /* The refill is counted up to now whether or not anything is taken, so
     * the settlement always lands; a paused bucket refills but grants
     * nothing. */
    r = PQexecParams(
        c,
        "WITH cur AS (SELECT least($2::float8, tokens + $3::float8 * extract(epoch FROM now() - updated_at))"
        "   - $6::float8 AS avail,"
        "   greatest(coalesce(extract(epoch FROM paused_until - now()), 0), 0) AS pause_s"
        "  FROM dispatchai.llm_rate_buckets WHERE name = $1 FOR UPDATE),"
        " g AS (SELECT CASE WHEN pause_s > 0 OR avail < $4::float8 THEN 0"
        "   ELSE least($5::float8, floor(avail)) END AS take FROM cur)"
        " UPDATE dispatchai.llm_rate_buckets b SET tokens = cur.avail - g.take, updated_at = now()"
        " FROM cur, g WHERE b.name = $1"
        " RETURNING g.take, (cur.pause_s * 1000)::bigint",
        6, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "rate bucket lease", err, errlen);
    *granted = PQntuples(r) == 1 ? atof(PQgetvalue(r, 0, 0)) : 0;
    *pause_ms = PQntuples(r) == 1 ? atol(PQgetvalue(r, 0, 1)) : 0;
    PQclear(r);
    return 0;
}

int quota_bucket_pause(PGconn *c, const char *name, long ms, char *err, size_t errlen)
{
    char m[32];
    snprintf(m, sizeof(m), "%ld", ms);
    const char *v[2] = {name, m};
    PGresult *r = PQexecParams(c,
                               "UPDATE dispatchai.llm_rate_buckets SET paused_until = greatest(coalesce(paused_until,"
                               " now()), now() + $2::bigint * interval '1 millisecond') WHERE name = $1",
                               2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_failed(r, "rate bucket pause", err, errlen);
    PQclear(r);
    return 0;
}

int quota_budget_take(PGconn *c, const char *user, int n, long global_limit, long user_limit, int *granted,
                      long *used, char *err, size_t errlen)
{
    char ns[16], gs[24], us[24];
    snprintf(ns, sizeof(ns), "%d", n);
    snprintf(gs, sizeof(gs), "%ld", global_limit);
    snprintf(us, sizeof(us), "%ld", user_limit);
    const char *v[4] = {user, ns, gs, us};
    PGresult *r = PQexecParams(c, "SELECT granted, used FROM dispatchai.llm_budget_take($1, $2, $3, $4)", 4, NULL, v,
                               NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        return pg_failed(r, "budget", err, errlen);
    *granted = atoi(PQgetvalue(r, 0, 0));
    *used = atol(PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

int quota_budget_used(PGconn *c, long *used, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "SELECT coalesce(sum(used), 0) FROM dispatchai.llm_budget_usage"
                            " WHERE day = (now() AT TIME ZONE 'UTC')::date AND scope = ''");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "budget", err, errlen);
    *used = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int quota_known_versions(PGconn *c, const long long *ids, const char *const *versions, int n, bool *known, char *err,
                         size_t errlen)
{
    /* Two arrays as text: {id,...} and {"version",...}. */
    size_t cap = 64 + (size_t)n * 24, vcap = 64;
    for (int i = 0; i < n; i++)
        vcap += strlen(versions[i]) + 4;
    char *a = malloc(cap), *b = malloc(vcap);
    if (a == NULL || b == NULL)
        abort();
    size_t la = 0, lb = 0;
    a[la++] = '{';
    b[lb++] = '{';
    for (int i = 0; i < n; i++) {
        la += (size_t)snprintf(a + la, cap - la, "%s%lld", i ? "," : "", ids[i]);
        lb += (size_t)snprintf(b + lb, vcap - lb, "%s\"%s\"", i ? "," : "", versions[i]);
        known[i] = false;
    }
    snprintf(a + la, cap - la, "}");
    snprintf(b + lb, vcap - lb, "}");
    const char *v[2] = {a, b};
    PGresult *r = PQexecParams(c,
                               "SELECT v.k - 1 FROM unnest($1::bigint[], $2::timestamptz[]) WITH ORDINALITY AS v(id, ver, k)"
                               " JOIN dispatchai.issues i ON i.github_issue_id = v.id"
                               " JOIN dispatchai.enriched_issues e ON e.issue_id = i.id"
                               " WHERE e.source_updated_at >= v.ver",
                               2, NULL, v, NULL, NULL, 0);
    free(a);
    free(b);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "known versions", err, errlen);
    for (int i = 0; i < PQntuples(r); i++) {
        int k = atoi(PQgetvalue(r, i, 0));
        if (k >= 0 && k < n)
            known[k] = true;
    }
    PQclear(r);
    return 0;
}
