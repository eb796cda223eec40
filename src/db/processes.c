/*
 * processes.c -- see processes.h.
 */
#include "processes.h"

#include <stdio.h>
#include <stdlib.h>

#include "schema.h"

int processes_beat(PGconn *c, const process_beat_t *b, char *err, size_t errlen)
{
    char pid[16], started[32], rss[32];
    snprintf(pid, sizeof(pid), "%d", b->pid);
    snprintf(started, sizeof(started), "%lld", b->started_ms);
    snprintf(rss, sizeof(rss), "%lld", b->rss_bytes);
    char *parts = json_dumps(b->partitions, JSON_COMPACT), *figures = json_dumps(b->figures, JSON_COMPACT);
    const char *v[9] = {b->process_id, b->group_id, b->host, b->version, pid, started, b->state, rss, parts};
    const char *v2[10];
    for (int i = 0; i < 9; i++)
        v2[i] = v[i];
    v2[9] = figures;
    PGresult *r = PQexecParams(
        c,
        "WITH gone AS (DELETE FROM dispatchai.processes WHERE heartbeat_at < now() - interval '1 day')"
        " INSERT INTO dispatchai.processes (process_id, group_id, host, version, pid, started_at, state, rss_bytes,"
        "  partitions, figures)"
        " VALUES ($1, $2, $3, $4, $5::int, to_timestamp($6::bigint / 1000.0), $7, $8::bigint, $9::jsonb, $10::jsonb)"
        " ON CONFLICT (process_id) DO UPDATE SET heartbeat_at = now(), state = EXCLUDED.state,"
        "  rss_bytes = EXCLUDED.rss_bytes, partitions = EXCLUDED.partitions, figures = EXCLUDED.figures",
        10, NULL, v2, NULL, NULL, 0);
    free(parts);
    free(figures);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_failed(r, "process heartbeat", err, errlen);
    PQclear(r);
    return 0;
}

json_t *processes_list(PGconn *c, const char *group_id, char *err, size_t errlen)
{
    const char *v[1] = {group_id};
    PGresult *r = PQexecParams(
        c,
        "SELECT coalesce(json_agg(json_build_object('process_id', process_id, 'host', host, 'version', version,"
        "  'pid', pid, 'started_at', started_at, 'uptime_s', extract(epoch FROM now() - started_at)::bigint,"
        "  'state', state, 'rss_bytes', rss_bytes, 'partitions', partitions, 'figures', figures,"
        "  'heard_ms', (extract(epoch FROM heartbeat_at) * 1000)::bigint)"
        "  ORDER BY started_at DESC), '[]')"
        " FROM dispatchai.processes WHERE group_id = $1",
        1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        pg_failed(r, "listing processes", err, errlen);
        return NULL;
    }
    json_error_t je;
    json_t *list = json_loads(PQgetvalue(r, 0, 0), 0, &je);
    PQclear(r);
    if (list == NULL)
        snprintf(err, errlen, "listing processes: %s", je.text);
    return list;
}
