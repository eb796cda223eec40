/*
 * poller.h -- the poller: a dedicated actor that owns the consumer. It
 * takes records from each partition with room and hands them to that
 * partition's consumer, serves rebalances (assigning and revoking
 * partition-consumers), holds and pauses partitions, and applies the
 * fleet's pause, resume and reset-offsets commands.
 */
#ifndef DISPATCHD_POLLER_H
#define DISPATCHD_POLLER_H

#include "actors.h"

enum poller_msg {
    MSG_POLL = RT_MSG_USER + 0x200,    /* itself: a round */
    MSG_POLLER_WAKE,                   /* librdkafka, partition-consumers: a round soon */
    MSG_PARTITION_CTL,                 /* partition-consumer: partition_ctl_msg_t */
    MSG_ADMIN_PAUSE,                   /* admin: admin_pause_msg_t */
    MSG_ADMIN_RESET,                   /* admin: admin_reset_msg_t */
    MSG_STOP_INTAKE,                   /* shutdown: take no more records */
    MSG_CLOSE,                         /* shutdown (asked): commit, leave the group; answered
                                          with a poller_closed_msg_t */
};

/* The answer to MSG_CLOSE. destroy_safe is false when the consumer was
 * closed between joining the group and its first assignment: librdkafka
 * before 2.3 (Debian 12 has 2.0) then aborts in rd_kafka_destroy (the
 * cooperative-sticky assignor's state is still NULL), so the handle is
 * left to the process's exit. */
typedef struct poller_closed_msg {
    rt_msg_t hdr;
    bool destroy_safe;
} poller_closed_msg_t;

/* A partition-consumer asks to be held (pause) or let go. */
typedef struct partition_ctl_msg {
    rt_msg_t hdr;
    int32_t partition;
    bool pause;
} partition_ctl_msg_t;

/* A fleet command for this group. */
typedef struct admin_pause_msg {
    rt_msg_t hdr;
    bool pause;
    bool all;                     /* every partition, now and later */
    int npartitions;
    int32_t partitions[1024];
} admin_pause_msg_t;

/* Target offsets of the partitions this process owns. */
typedef struct admin_reset_msg {
    rt_msg_t hdr;
    int n;
    int32_t partitions[256];
    int64_t offsets[256];
} admin_reset_msg_t;

/* Creates the consumer from conf (consumed) into *consumer, subscribes and
 * starts polling; NULL with err. */
rt_actor_t *poller_spawn(const actor_env_t *env, rd_kafka_conf_t *conf, rd_kafka_t **consumer, char *err,
                         size_t errlen);

#endif
