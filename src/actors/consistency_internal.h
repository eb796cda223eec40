/*
 * consistency_internal.h -- the consistency actor's state, shared by its
 * two documents: GET /health/consistency (consistency.c) and GET
 * /api/status with this process's heartbeat (consistency_status.c) and
 * the DLQ's last records (consistency_dlq.c).
 */
#ifndef DISPATCHD_CONSISTENCY_INTERNAL_H
#define DISPATCHD_CONSISTENCY_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>

#include "consistency.h"
#include "consistency_counts.h"
#include "latest.h"
#include "timefmt.h"

#define KAFKA_EVERY_MS 2000
#define DB_EVERY_MS 5000
#define QUERY_TIMEOUT_MS 3000
#define DLQ_RECENT 20              /* the DLQ's last records in GET /api/status */

typedef struct topic_view {
    int n;                        /* partitions; -1: not known */
    int64_t lo[PIPELINE_MAX_PARTITIONS], hi[PIPELINE_MAX_PARTITIONS];
    int64_t committed[PIPELINE_MAX_PARTITIONS];   /* the group's; -1 none */
    char bad[PIPELINE_MAX_PARTITIONS][96];        /* a partition the broker did not answer
                                                     for ("" when it did): that row says so,
                                                     the others stand */
} topic_view_t;

/* A partition's lag: its end less the group's commit (its start before
 * the first), negative when committed past the end. */
static inline int64_t view_lag(const topic_view_t *v, int p)
{
    return v->hi[p] - (v->committed[p] >= 0 ? v->committed[p] : v->lo[p]);
}

typedef struct consistency_state {
    const actor_env_t *env;
    rt_actor_t *self;
    rd_kafka_t *rk;
    PGconn *db;
    topic_view_t raw, retry, dlq;
    char kafka_error[256];        /* "" when the last ask succeeded */
    char db_error[256];
    consistency_counts_t counts;
    uint64_t kafka_ms, db_ms;     /* when last asked */
    char refreshed_at[ISO8601_LEN];
    latest_t *health_doc;         /* GET /health/consistency's, published at each snapshot */
    latest_t *status_doc;         /* GET /api/status's */
    bool built;                   /* the first snapshot is made */
    /* GET /api/status (consistency_status.c) */
    char process_id[37];          /* this process, in the group's heartbeats */
    char host[256];
    long long started_ms;
    uint64_t beat_ms;             /* when last written and read */
    json_t *processes;            /* the group's, as last read (NULL: not yet) */
    json_t *syncs;                /* in progress, as last read */
    histogram_t e2e_before, classify_before;   /* at the last heartbeat: windows of latency */
    uint64_t records_before[RESULT_COUNT];
    uint64_t figures_ms;          /* when those were taken */
    int64_t lag_before;           /* the total lag of the snapshot before */
    bool lag_rising;              /* ... and whether this one's is higher */
    int64_t dlq_depth, retry_depth;   /* from the last snapshot */
    int64_t total_lag;
    uint64_t refreshes;           /* snapshots made: readers cost none */
    /* the DLQ's last records (consistency_dlq.c) */
    json_t *dlq_recent;           /* newest first, metadata only; NULL: not yet answered */
    bool dlq_asking;
    int64_t dlq_end_asked, dlq_end_answered;   /* the DLQ's end (sum of high watermarks) */
} consistency_state_t;


/* Writes this process's heartbeat and reads the group's (every 2 s). */
void consistency_beat(consistency_state_t *s);
/* GET /api/status's document from the snapshot (s->status_doc); built
 * again at each heartbeat read, so a silent process shows gone at once. */
void consistency_status_build(consistency_state_t *s, int64_t total_lag);

/* Asks the DLQ actor for its last records if the DLQ's end moved. */
void consistency_dlq_ask(consistency_state_t *s);
/* Its answer (MSG_CONSISTENCY_DLQ_RECENT); the message is the caller's. */
void consistency_dlq_answer(consistency_state_t *s, rt_msg_t *msg);

#endif
