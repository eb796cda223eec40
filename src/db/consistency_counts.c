/*
 * consistency_counts.c -- see consistency_counts.h.
 */
#include "consistency_counts.h"

#include <stdlib.h>

#include "schema.h"

int consistency_counts_read(PGconn *c, const char *group, const char *topic, consistency_counts_t *out, char *err,
                            size_t errlen)
{
    const char *v[2] = {group, topic};
    PGresult *r = PQexecParams(
        c,
        "SELECT (SELECT count(*) FROM dispatchai.issues),"
        " (SELECT count(*) FROM dispatchai.enriched_issues),"
        " u.n, coalesce((extract(epoch FROM u.oldest) * 1000)::bigint, 0),"
        " (SELECT coalesce(sum(cardinality(kafka_offsets)), 0) FROM dispatchai.applied_batches"
        "  WHERE consumer_group = $1 AND topic = $2),"
        " (SELECT coalesce(sum(rows), 0) FROM dispatchai.outside_deletes WHERE at > now() - interval '24 hours'),"
        " (SELECT count(*) FROM dispatchai.outside_deletes WHERE rows IS NULL AND at > now() - interval '24 hours')"
        " FROM (SELECT count(*) AS n, min(processed_at) AS oldest FROM dispatchai.enriched_issues"
        "       WHERE published_at IS NULL) u",
        2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        return pg_failed(r, "consistency counts", err, errlen);
    int64_t *f[] = {&out->issues, &out->enriched, &out->unpublished, &out->oldest_unpublished_ms,
                    &out->applied_pending, &out->deleted_outside, &out->truncated_outside};
    for (int i = 0; i < 7; i++)
        *f[i] = strtoll(PQgetvalue(r, 0, i), NULL, 10);
    PQclear(r);
    return 0;
}
