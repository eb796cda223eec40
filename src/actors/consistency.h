/*
 * consistency.h -- the consistency actor: GET /health/consistency's
 * snapshot, refreshed off the event loop (a dedicated thread with its own
 * Kafka client and database connection): for the group, per input
 * partition and in total, the high watermark, committed offset and lag
 * (from the broker: right for partitions owned elsewhere or paused); the
 * database's rows, classifications, classifications never published and
 * applied offsets; the DLQ's and the retry path's depths; and a verdict:
 *
 *   ok            nothing behind, nothing wrong
 *   lagging       the lag reached [health] lag_threshold, or is above 0
 *                 while consumption is paused
 *   inconsistent  with the reasons: a committed offset beyond the end of
 *                 its partition; issues without a classification; rows
 *                 deleted outside dispatchd (the last 24 h); classifications
 *                 never published though nothing is in flight
 *   unknown       Kafka or the database did not answer
 *
 * Kafka is asked every 2 s, the database every 5 s; any number of readers
 * cost nothing more.
 */
#ifndef DISPATCHD_CONSISTENCY_H
#define DISPATCHD_CONSISTENCY_H

#include "actors.h"
#include "latest.h"

enum consistency_msg {
    MSG_CONSISTENCY_DLQ_RECENT = RT_MSG_USER + 0xC00,   /* itself: the DLQ actor's list of its last records */
};

/* Publishes GET /health/consistency's document to health_doc (status 200
 * for ok and lagging, 503 for inconsistent and unknown) and GET
 * /api/status's to status_doc (consistency_status.c), the first at once
 * and then every second: readers take them from there (latest.h) and
 * never wait for a refresh. */
rt_actor_t *consistency_spawn(const actor_env_t *env, latest_t *health_doc, latest_t *status_doc, char *err,
                              size_t errlen);

#endif
