/*
 * dlq_jobs_internal.h -- the DLQ actor's state, shared by its three parts:
 * dlq_jobs.c (jobs, answers, the handler), dlq_reader.c (a job's reader of
 * the DLQ) and dlq_replay.c (a replay's sends and notes). Nothing outside
 * them includes it.
 */
#ifndef DISPATCHD_DLQ_JOBS_INTERNAL_H
#define DISPATCHD_DLQ_JOBS_INTERNAL_H

#include <libpq-fe.h>

#include "dlq_jobs.h"
#include "dlq_replays.h"
#include "kafka_wake.h"
#include "timefmt.h"

#define QUERY_TIMEOUT_MS 5000
#define TICK_MS 200
#define REPLAY_BATCH 2000
#define BATCHES_IN_FLIGHT 16           /* sent, waiting for Kafka's acknowledgements */
#define NOTE_EVERY 20000              /* acknowledged sends noted at once (and at the end): a
                                         crash sends at most these again on the next replay */
#define JOBS_KEPT 32                  /* finished jobs whose progress can still be asked */
#define JOBS_WAITING 16
#define PREFETCH_HIGH 20000           /* records fetched and unread: the reader pauses */
#define PREFETCH_LOW 5000             /* ... and resumes */

typedef enum { JOB_WAITING, JOB_RUNNING, JOB_DONE, JOB_FAILED } job_status_t;

/* Records sent to the input, until Kafka acknowledged every one; then
 * the acknowledged ones are noted (dlq_replays.h). The acknowledgements
 * arrive on the producer's thread: each sets its flag and lets its record
 * go; the last one tells the actor. */
typedef struct sent_batch {
    rt_actor_t *actor;
    int n;
    int pending;                  /* atomic: sends not answered, +1 while still sending */
    struct ref {
        struct sent_batch *b;
        int i;
        rd_kafka_message_t *m;    /* sent from where it was read: kept until answered */
    } ref[REPLAY_BATCH];          /* each record's acknowledgement's context */
    int32_t part[REPLAY_BATCH];
    int64_t off[REPLAY_BATCH];
    bool ok[REPLAY_BATCH];
} sent_batch_t;

typedef struct job {
    char id[37];
    dlq_request_kind_t kind;
    dlq_filter_t f;
    job_status_t status;
    char error[300];
    long scanned, matched, replayed, already, truncated_skipped, send_failed;
    json_t *records;              /* a list's answer */
    bool limit_reached;
    char started_at[ISO8601_LEN], finished_at[ISO8601_LEN];
    /* the request waiting for an answer (NULL once answered) */
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
    uint64_t answer_by_ms;
} job_t;

typedef struct dlq_jobs_state {
    const actor_env_t *env;
    rt_actor_t *self;
    PGconn *db;
    kafka_wake_t wake;
    job_t *running;
    job_t *waiting[JOBS_WAITING];
    int nwaiting;
    job_t *kept[JOBS_KEPT];       /* finished, newest last */
    int nkept;
    /* the running job's reader */
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int nparts;
    int64_t *end;                 /* by partition: read up to here (exclusive) */
    int64_t *next;                /* by partition: the next offset to read */
    bool *done;
    int parts_left;
    /* a replay's records gathered, not checked yet, and those sent */
    rd_kafka_message_t *gather[REPLAY_BATCH];
    int ngather;
    sent_batch_t *sent[BATCHES_IN_FLIGHT];
    int nsent;
    char failing[300];            /* the job failed: it ends once its sends are answered */
    dlq_range_t *known;           /* replayed before, in the job's range (normalized) */
    int nknown;
    dlq_range_t *acked;           /* sent and acknowledged, not noted yet */
    int nacked, capacked;
    bool paused;                  /* the reader's partitions, while the sends catch up */
} dlq_jobs_state_t;

typedef struct dlq_acked_msg {
    rt_msg_t hdr;
    sent_batch_t *batch;          /* every send answered */
} dlq_acked_msg_t;

/* dlq_jobs.c: the running job ends (error NULL: done), answered if its
 * request still waits; the next one starts. */
void dlq_job_finish(dlq_jobs_state_t *s, const char *error);

/* dlq_reader.c */
/* The running job's reader, over its range; 0, or -1 with err. */
int dlq_reader_open(dlq_jobs_state_t *s, char *err, size_t errlen);
void dlq_reader_close(dlq_jobs_state_t *s);
/* Reads what the reader has, sending a replay's full batches. */
void dlq_read_some(dlq_jobs_state_t *s);

/* dlq_replay.c */
/* The gathered records sent (those replayed before left out). */
void dlq_replay_send(dlq_jobs_state_t *s);
/* Every send of batch b is answered. */
void dlq_replay_acked(dlq_jobs_state_t *s, sent_batch_t *b);
/* The job stops reading; it ends once every send is answered. */
void dlq_job_fail(dlq_jobs_state_t *s, const char *error);

#endif
