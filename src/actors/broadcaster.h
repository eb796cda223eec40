/*
 * broadcaster.h -- the broadcaster: a dedicated actor that turns what the
 * whole fleet does into /ws messages. It reads issues.enriched with a
 * client of its own (every partition assigned from the end, nothing ever
 * committed), so each process sees every classification whichever process
 * made it, and LISTENs on PostgreSQL for sync changes (schema migration 6
 * announces each one when its transaction commits). Each message is
 * encoded once here and handed to the control plane's event loop through
 * a ws_feed_t, which fans it out to the sockets allowed to see it.
 * sync_progress is coalesced per sync; a sync's end goes out at once.
 */
#ifndef DISPATCHD_BROADCASTER_H
#define DISPATCHD_BROADCASTER_H

#include "actors.h"
#include "ws_feed.h"

enum broadcaster_msg {
    MSG_BROADCASTER_POLL = RT_MSG_USER + 0x900,   /* librdkafka, itself: read the enriched topic */
};

/* feed outlives the actor. NULL with err when its Kafka client cannot be
 * made; a database that cannot be reached is retried, not an error. */
rt_actor_t *broadcaster_spawn(const actor_env_t *env, ws_feed_t *feed, char *err, size_t errlen);

#endif
