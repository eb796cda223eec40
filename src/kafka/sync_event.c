/*
 * sync_event.c -- see sync_event.h.
 */
#include "sync_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "uuid.h"

int sync_event_make(sync_event_t *e, json_t *issue, const char *owner, const char *repo, const char *user, char *err,
                    size_t errlen)
{
    memset(e, 0, sizeof(*e));
    json_t *ev = issue_event_wrap(issue, owner, repo, user, err, errlen);
    if (ev == NULL)
        return -1;
    e->value = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (e->value == NULL)
        abort();
    snprintf(e->key, sizeof(e->key), "%s/%s:issue:%lld", owner, repo,
             (long long)json_integer_value(json_object_get(issue, "number")));
    uuid_v4(e->correlation_id);
    return 0;
}

rd_kafka_resp_err_t sync_event_produce(rd_kafka_t *rk, const char *topic, sync_event_t *e, const char *sync_id,
                                       const char *user, void *opaque)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(e->key, strlen(e->key)),
        RD_KAFKA_V_VALUE(e->value, strlen(e->value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
        RD_KAFKA_V_HEADER("sync_id", sync_id, -1), RD_KAFKA_V_HEADER("user_id", user, -1),
        RD_KAFKA_V_HEADER("correlation_id", e->correlation_id, -1), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        e->value = NULL;
    return err;
}

void sync_event_free(sync_event_t *e)
{
    free(e->value);
    e->value = NULL;
}
