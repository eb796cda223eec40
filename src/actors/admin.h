/*
 * admin.h -- the admin actor: reads the control topic (fleet commands for
 * this group), and answers the HTTP plane's questions that need broker
 * round trips, on a dedicated thread with its own client.
 */
#ifndef DISPATCHD_ADMIN_H
#define DISPATCHD_ADMIN_H

#include "actors.h"

enum admin_msg {
    MSG_ADMIN_QUERY = RT_MSG_USER + 0x700, /* http: admin_query_msg_t */
};

typedef enum { ADMIN_GROUP_LAG, ADMIN_TOPIC_STATS } admin_query_kind_t;

/* reply(ctx, status, json) runs on the admin thread. */
typedef struct admin_query_msg {
    rt_msg_t hdr;
    admin_query_kind_t kind;
    char group[256];
    char topic[256];
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
} admin_query_msg_t;

rt_actor_t *admin_spawn(const actor_env_t *env, char *err, size_t errlen);

#endif
