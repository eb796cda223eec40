/*
 * sync_event.h -- how a batch sync publishes one GitHub issue object to
 * issues.raw: the event issue_event_wrap makes (sync_source manual_pull),
 * keyed "owner/repo:issue:N", with the headers sync_id, user_id and
 * correlation_id. Syncs from a file (`dispatchd sync --from`) and from the
 * GitHub API publish alike through it.
 */
#ifndef DISPATCHD_SYNC_EVENT_H
#define DISPATCHD_SYNC_EVENT_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>

typedef struct sync_event {
    char *value;                  /* the event's JSON (malloc'd) */
    char key[600];
    char correlation_id[37];
} sync_event_t;

/* 0, or -1 with err when issue is not an issue object (e->value NULL). */
int sync_event_make(sync_event_t *e, json_t *issue, const char *owner, const char *repo, const char *user, char *err,
                    size_t errlen);
/* Produces it with opaque as the message's. On success the producer owns
 * the value (e->value is NULL after); on an error the caller still does
 * (retry, or sync_event_free). */
rd_kafka_resp_err_t sync_event_produce(rd_kafka_t *rk, const char *topic, sync_event_t *e, const char *sync_id,
                                       const char *user, void *opaque);
void sync_event_free(sync_event_t *e);

#endif
