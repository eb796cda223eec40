/*
 * ledger_internal.h -- what the ledger's two ways of writing a batch share
 * (ledger.c: statements over arrays, any batch; ledger_copy.c: COPY, a
 * batch of issues the database does not have yet).
 */
#ifndef DISPATCHD_LEDGER_INTERNAL_H
#define DISPATCHD_LEDGER_INTERNAL_H

#include "ledger.h"

/* $1 group, $2 topic, $3 partitions, $4 offsets (int[], bigint[]). */
extern const char *const LEDGER_APPLIED_SQL;
/* $1 sync id, $2 synced, $3 classified. */
extern const char *const LEDGER_SYNC_PROGRESS_SQL;

/* Whether an error means "try again" rather than "this row is bad". */
bool ledger_transient(const PGresult *res, PGconn *conn);

/* The batch by COPY when it can go that way: n entries (no replays, each
 * issue once) of issues the database has none of, none of a cancelled
 * sync. false: it cannot (nothing written; the statements path takes it);
 * true: *st says how it went, as ledger_store_batch does. */
bool ledger_copy_batch(const ledger_scope_t *scope, PGconn *c, ledger_entry_t *e, int n, ledger_status_t *st);

#endif
