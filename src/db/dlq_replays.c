/*
 * dlq_replays.c -- see dlq_replays.h.
 */
#include "dlq_replays.h"

#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "strbuf.h"

/* Three arrays: int[] partitions, bigint[] firsts and lasts. */
static void arrays(strbuf_t a[3], const dlq_range_t *r, int n)
{
    for (int k = 0; k < 3; k++) {
        sb_init(&a[k]);
        sb_puts(&a[k], "{");
    }
    for (int i = 0; i < n; i++) {
        sb_printf(&a[0], "%s%d", i ? "," : "", r[i].partition);
        sb_printf(&a[1], "%s%lld", i ? "," : "", (long long)r[i].first);
        sb_printf(&a[2], "%s%lld", i ? "," : "", (long long)r[i].last);
    }
    for (int k = 0; k < 3; k++)
        sb_puts(&a[k], "}");
}

static void arrays_free(strbuf_t a[3])
{
    for (int k = 0; k < 3; k++)
        sb_free(&a[k]);
}

int dlq_replays_overlapping(PGconn *c, const char *topic, const dlq_range_t *spans, int n, dlq_range_t **out,
                            char *err, size_t errlen)
{
    *out = NULL;
    if (n == 0)
        return 0;
    strbuf_t a[3];
    arrays(a, spans, n);
    const char *v[4] = {topic, a[0].data, a[1].data, a[2].data};
    PGresult *r = PQexecParams(c,
                               "SELECT d.partition, d.first_offset, d.last_offset"
                               " FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS q(p, lo, hi)"
                               " JOIN dispatchai.dlq_replays d ON d.topic = $1 AND d.partition = q.p"
                               " AND d.first_offset <= q.hi AND d.last_offset >= q.lo",
                               4, NULL, v, NULL, NULL, 0);
    arrays_free(a);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_failed(r, "reading replayed DLQ ranges", err, errlen);
    int rows = PQntuples(r);
    *out = calloc((size_t)rows + 1, sizeof(**out));
    if (*out == NULL)
        abort();
    for (int i = 0; i < rows; i++)
        (*out)[i] = (dlq_range_t){(int32_t)strtol(PQgetvalue(r, i, 0), NULL, 10),
                                  strtoll(PQgetvalue(r, i, 1), NULL, 10), strtoll(PQgetvalue(r, i, 2), NULL, 10)};
    PQclear(r);
    return rows;
}

int dlq_replays_note(PGconn *c, const char *topic, const dlq_range_t *ranges, int n, const char *job_id, char *err,
                     size_t errlen)
{
    if (n == 0)
        return 0;
    strbuf_t a[3];
    arrays(a, ranges, n);
    const char *v[5] = {topic, a[0].data, a[1].data, a[2].data, job_id};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO dispatchai.dlq_replays (topic, partition, first_offset, last_offset, job_id)"
                               " SELECT $1, p, lo, hi, $5 FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS q(p, lo, hi)"
                               " ON CONFLICT DO NOTHING",
                               5, NULL, v, NULL, NULL, 0);
    arrays_free(a);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_failed(r, "noting replayed DLQ ranges", err, errlen);
    PQclear(r);
    return 0;
}

static int by_start(const void *a, const void *b)
{
    const dlq_range_t *x = a, *y = b;
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

int dlq_ranges_normalize(dlq_range_t *ranges, int n)
{
    if (n <= 0)
        return 0;
    qsort(ranges, (size_t)n, sizeof(*ranges), by_start);
    int k = 0;
    for (int i = 1; i < n; i++) {
        dlq_range_t *last = &ranges[k];
        if (ranges[i].partition == last->partition && ranges[i].first <= last->last + 1) {
            if (ranges[i].last > last->last)
                last->last = ranges[i].last;
        } else {
            ranges[++k] = ranges[i];
        }
    }
    return k + 1;
}

bool dlq_ranges_contain(const dlq_range_t *ranges, int n, int32_t partition, int64_t offset)
{
    int lo = 0, hi = n;   /* the first range starting after (partition, offset) */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const dlq_range_t *r = &ranges[mid];
        if (r->partition < partition || (r->partition == partition && r->first <= offset))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && ranges[lo - 1].partition == partition && ranges[lo - 1].last >= offset;
}
