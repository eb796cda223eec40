/*
 * processes.h -- the group's processes as PostgreSQL knows them: each
 * writes its heartbeat (who, where, since when, its state, memory, the
 * partitions it owns and its figures) every few seconds; readers
 * list them with how long ago each was heard. Rows a day old are removed
 * by the next heartbeat.
 */
#ifndef DISPATCHD_PROCESSES_H
#define DISPATCHD_PROCESSES_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

typedef struct process_beat {
    const char *process_id, *group_id, *host, *version;
    int pid;
    long long started_ms;
    const char *state;            /* running | paused | draining */
    long long rss_bytes;
    json_t *partitions;           /* [{partition, in_flight, paused, paused_why}] */
    json_t *figures;              /* records/s by result, latencies */
} process_beat_t;

/* 0, or -1 with err. */
int processes_beat(PGconn *c, const process_beat_t *b, char *err, size_t errlen);
/* The group's processes, newest first, each with heard_ms (its last
 * heartbeat, Unix ms); NULL with err. */
json_t *processes_list(PGconn *c, const char *group_id, char *err, size_t errlen);

#endif
