/*
 * dlq_jobs.h -- the DLQ actor: inspection and replay of issues.raw.dlq.
 *
 * A request is a job, run one at a time on a dedicated thread with a
 * Kafka client of its own that reads the DLQ from where the filter's time
 * range starts (offsetsForTimes) to where it ends or to the end the topic
 * had when the job started, so a job always ends. A list answers with the
 * matching records' metadata (coordinates, key, error, class, attempts,
 * times, origin -- never a title or body). A replay re-publishes the
 * matching records to the input topic with the header replayed_from
 * ("PARTITION/OFFSET" of the DLQ record) and their own key, value and
 * correlation, sync and user headers, in batches: each batch's records
 * already replayed are left out (dlq_replays.h), the rest produced, and
 * noted once Kafka has them -- so replaying the same range twice sends
 * nothing the second time. A truncated DLQ record (its value cut to fit)
 * is never replayed. dry_run counts without sending.
 */
#ifndef DISPATCHD_DLQ_JOBS_H
#define DISPATCHD_DLQ_JOBS_H

#include "actors.h"
#include "dlq_filter.h"

enum dlq_jobs_msg {
    MSG_DLQ_REQUEST = RT_MSG_USER + 0xB00,   /* dlq_request_msg_t */
    MSG_DLQ_POLL,                            /* librdkafka, itself: the job's reader has records */
    MSG_DLQ_ACKED,                           /* the producer's report of a replayed record */
};

typedef enum { DLQ_LIST, DLQ_REPLAY, DLQ_JOB_STATUS } dlq_request_kind_t;

/* The answer is JSON with an HTTP status: a list 200; a replay 200 with
 * its counts when it ends within answer_within_ms, else 202 with its job
 * id and progress so far (DLQ_JOB_STATUS asks again: 200, 404 when the
 * job is not known); 503 when Kafka or the database failed it; 429 when
 * too many jobs wait. */
typedef struct dlq_request_msg {
    rt_msg_t hdr;
    dlq_request_kind_t kind;
    dlq_filter_t filter;
    char job_id[40];
    int answer_within_ms;
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
} dlq_request_msg_t;

/* Replays produce on env->producer, whose delivery reports must hand
 * external_ack_t opaques back (publisher.h). */
rt_actor_t *dlq_jobs_spawn(const actor_env_t *env);

#endif
