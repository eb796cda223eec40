/*
 * storage.h -- the storage actors: each a dedicated thread with its own
 * database connection, writing records in batches through the ledger, and
 * marking published events. An issue always goes to the same one.
 */
#ifndef DISPATCHD_STORAGE_H
#define DISPATCHD_STORAGE_H

#include "actors.h"

enum storage_msg {
    MSG_STORE = RT_MSG_USER + 0x500,    /* a classified record_t */
    MSG_MARK_PUBLISHED,                 /* publisher: a record_t whose enriched event Kafka has */
    MSG_PRUNE,                          /* poller: prune_msg_t */
};

/* A partition's offset committed in Kafka: its applied offsets below are
 * not needed any more. */
typedef struct prune_msg {
    rt_msg_t hdr;
    int32_t partition;
    int64_t below;
} prune_msg_t;

rt_actor_t *storage_spawn(const actor_env_t *env, int index, char *err, size_t errlen);

/* The storage actor of an issue: always the same one, so versions of one
 * issue are written in order and two connections never wait on each
 * other's row locks. */
static inline rt_actor_t *storage_for(const actor_env_t *env, int64_t issue_id)
{
    return env->to->storage[(uint64_t)issue_id % (uint64_t)env->to->nstorage];
}

/* A record classified (or a replay): on to its storage actor, or finished
 * here with [pipeline] stages = classify. */
void storage_send(const actor_env_t *env, record_t *r);

#endif
