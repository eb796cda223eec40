/*
 * dlq_replays.c -- see dlq_replays.h.
 */
#include "dlq_replays.h"

#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "strbuf.h"

/* The records as two arrays: int[] and bigint[] literals. */
static void arrays(strbuf_t *parts, strbuf_t *offs, const int32_t *partitions, const int64_t *offsets, int n)
{
    sb_init(parts);
    sb_init(offs);
    sb_puts(parts, "{");
    sb_puts(offs, "{");
    for (int i = 0; i < n; i++) {
        sb_printf(parts, "%s%d", i ? "," : "", partitions[i]);
        sb_printf(offs, "%s%lld", i ? "," : "", (long long)offsets[i]);
    }
    sb_puts(parts, "}");
    sb_puts(offs, "}");
}

int dlq_replays_known(PGconn *c, const char *topic, const int32_t *partitions, const int64_t *offsets, int n,
                      bool *known, char *err, size_t errlen)
{
    memset(known, 0, (size_t)n * sizeof(*known));
    if (n == 0)
        return 0;
    strbuf_t parts, offs;
    arrays(&parts, &offs, partitions, offsets, n);
    const char *v[3] = {topic, parts.data, offs.data};
    PGresult *r = PQexecParams(c,
                               "SELECT q.i FROM unnest($2::int[], $3::bigint[]) WITH ORDINALITY AS q(p, o, i)"
                               " JOIN dispatchai.dlq_replays d ON d.topic = $1 AND d.partition = q.p"
                               " AND d.\"offset\" = q.o",
                               3, NULL, v, NULL, NULL, 0);
    sb_free(&parts);
    sb_free(&offs);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "reading replayed DLQ records", err, errlen);
    for (int row = 0; row < PQntuples(r); row++) {
        long i = strtol(PQgetvalue(r, row, 0), NULL, 10);
        if (i >= 1 && i <= n)
            known[i - 1] = true;
    }
    PQclear(r);
    return 0;
}

int dlq_replays_note(PGconn *c, const char *topic, const int32_t *partitions, const int64_t *offsets, int n,
                     const char *job_id, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    strbuf_t parts, offs;
    arrays(&parts, &offs, partitions, offsets, n);
    const char *v[4] = {topic, parts.data, offs.data, job_id};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO dispatchai.dlq_replays (topic, partition, \"offset\", job_id)"
                               " SELECT $1, p, o, $4 FROM unnest($2::int[], $3::bigint[]) AS q(p, o)"
                               " ON CONFLICT DO NOTHING",
                               4, NULL, v, NULL, NULL, 0);
    sb_free(&parts);
    sb_free(&offs);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_failed(r, "noting replayed DLQ records", err, errlen);
    PQclear(r);
    return 0;
}
