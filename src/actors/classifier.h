/*
 * classifier.h -- the classifier: classifies each record in-process (the
 * rules or the local model) or hands it to the LLM actor, then on to its
 * storage actor.
 */
#ifndef DISPATCHD_CLASSIFIER_H
#define DISPATCHD_CLASSIFIER_H

#include "actors.h"

enum classifier_msg {
    MSG_CLASSIFY = RT_MSG_USER + 0x300, /* partition-consumer: a record_t */
    MSG_SYNC_CANCELLED,                 /* syncs, admin: sync_cancelled_msg_t; when asked, the
                                           answer (an empty MSG_SYNC_CANCELLED) means every later
                                           event of the sync is skipped, here and in the llm actor */
};

typedef struct sync_cancelled_msg {
    rt_msg_t hdr;
    char sync_id[64];
} sync_cancelled_msg_t;

/* NULL with err when the configured provider cannot run (a configuration
 * error: exit 2). */
rt_actor_t *classifier_spawn(const actor_env_t *env, char *err, size_t errlen);

#endif
