/*
 * dlq_retry.h -- the DLQ-retry actor: owns the retry path.
 *
 * A record whose transient failures outlast the in-process retries
 * (dlq_retry_failed) leaves its input partition -- whose commit point then
 * moves on -- for issues.raw.retry, in the retry partition of the same
 * number, with its attempts, when it is due, its first failure, its origin
 * and its history in headers (retry_meta.h). Later records of its key
 * follow it there (the partition-consumer's park set), so a key's effects
 * keep offset order while every other key goes on.
 *
 * This actor (dedicated: it asks the broker for committed offsets and
 * watermarks) reads the retry partitions of the input partitions this
 * process owns -- the poller hands them over with each assignment -- with a
 * client of its own whose commits go to group `<group>-retry`. Each retry
 * partition is read one record at a time: the head waits on a timer until
 * it is due (the rest wait in Kafka), then goes through the normal stages
 * with this actor as its owner. Done (stored, skipped, or in the DLQ for a
 * permanent reason): its offset is committed and the partition-consumer is
 * told, which lets go of keys whose records are all done. Failed again:
 * the head waits in place for its next attempt (put back in the topic it
 * would land behind its own followers); after the last attempt, or too
 * old, the DLQ (error_class transient, its history in headers).
 *
 * On assignment it first reads the partition's backlog once for its keys
 * (MSG_PARKED to the partition-consumer, which starts nothing before), so
 * order holds when partitions move between processes.
 */
#ifndef DISPATCHD_DLQ_RETRY_H
#define DISPATCHD_DLQ_RETRY_H

#include "actors.h"
#include "backoff.h"

enum dlq_retry_msg {
    MSG_RETRY_ASSIGN = RT_MSG_USER + 0xA00,  /* poller: retry_assign_msg_t, the input partition
                                                is ours (or reset: a new generation) */
    MSG_RETRY_REVOKE,                        /* poller: retry_revoke_msg_t, it is not any more */
    MSG_RETRY_POLL,                          /* librdkafka, itself: a retry partition has records */
    /* and MSG_DONE (partition.h): a record of the path finished */
};

typedef struct retry_assign_msg {
    rt_msg_t hdr;
    int32_t partition;
    uint64_t generation;          /* the input partition's assignment generation */
    rt_actor_t *consumer;         /* its partition-consumer: told of keys and commits */
} retry_assign_msg_t;

typedef struct retry_revoke_msg {
    rt_msg_t hdr;
    int32_t partition;
} retry_revoke_msg_t;

/* NULL with err when its Kafka client cannot be made. */
rt_actor_t *dlq_retry_spawn(const actor_env_t *env, char *err, size_t errlen);
/* Whether the retry path is on ([retry] attempts > 0). */
bool dlq_retry_enabled(const config_t *cfg);

/* A record's transient failures outlasted the in-process retries (error
 * says why): an input record goes to the retry path (or the DLQ when the
 * path is off or its attempts are spent); a record of the path goes back
 * to this actor, which decides. */
void dlq_retry_failed(const actor_env_t *env, record_t *r, const char *error);

/* The retry path's policy: BACKOFF_RETRY_PATH with [retry]'s values. */
backoff_policy_t dlq_retry_policy(const config_t *cfg);

#endif
