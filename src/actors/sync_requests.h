/*
 * sync_requests.h -- the syncs actor: answers the HTTP plane's sync
 * requests (status, cancel) and the budget's status, with its own database
 * connection, off the event loop.
 */
#ifndef DISPATCHD_SYNC_REQUESTS_H
#define DISPATCHD_SYNC_REQUESTS_H

#include "actors.h"

enum sync_requests_msg {
    MSG_SYNC_REQUEST = RT_MSG_USER + 0x800, /* http: sync_request_msg_t */
};

typedef enum { SYNC_STATUS, SYNC_CANCEL, BUDGET_STATUS } sync_request_kind_t;

/* reply(ctx, status, json) runs on the syncs thread. */
typedef struct sync_request_msg {
    rt_msg_t hdr;
    sync_request_kind_t kind;
    char user[256], owner[256], repo[256];
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
} sync_request_msg_t;

rt_actor_t *sync_requests_spawn(const actor_env_t *env);

#endif
