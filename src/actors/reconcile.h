/*
 * reconcile.h -- after a crash, before partitions are taken on: marks as
 * published the enriched events Kafka has but the database never marked, so
 * that replays do not send them again. Runs on the poller's thread.
 */
#ifndef DISPATCHD_RECONCILE_H
#define DISPATCHD_RECONCILE_H

#include <libpq-fe.h>

#include "actors.h"

/* Returns how many it marked, -1 when it could not look. */
int reconcile_published(const actor_env_t *env, PGconn *db);

#endif
