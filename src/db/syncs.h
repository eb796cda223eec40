/*
 * syncs.h -- repository_syncs (its columns in schema.c): a batch sync
 * registered by `dispatchd sync`, its status, and its cancellation. The
 * storage actors count its events as they commit (ledger.c).
 */
#ifndef DISPATCHD_SYNCS_H
#define DISPATCHD_SYNCS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

/* A new sync: from a file (cursor NULL), or from the GitHub API (cursor:
 * where its fetch starts, as JSON; the sync is fetching, leased to
 * lease_owner for lease_s seconds). */
typedef struct sync_new {
    const char *user, *owner, *repo, *sync_id;
    long total;                   /* events expected (a file), or the issues counted (GitHub) */
    const char *cursor;
    const char *lease_owner;
    int lease_s;
} sync_new_t;

/* Registers the sync `pending`. 0; -1 with the database's error in err;
 * -2 when a sync of the same repository by the same user is still pending
 * or syncing. */
int syncs_register(PGconn *c, const sync_new_t *n, char *err, size_t errlen);
/* Publishing finished: `syncing` with the number of events published (or
 * `failed` with error when error is not NULL). */
int syncs_published(PGconn *c, const char *sync_id, long published, const char *error, char *err, size_t errlen);

/* A transaction storing events of syncs takes these shared locks first
 * ($1: text[] of sync ids); a cancel takes the sync's lock exclusively. So
 * a cancel either waits for such a transaction, and counts its rows, or
 * commits before it, and that transaction's upserts find the sync
 * cancelled and store nothing of it: the counts a cancel answers with are
 * the table's. (Locks of their own, not row locks on repository_syncs,
 * which the storing transactions also update: upgrading a shared row lock
 * deadlocked two storage connections.) */
extern const char *const SYNCS_LOCK_SHARED_SQL;

/* The syncs pending or running, every user's (the status page's: no
 * user ids, only who and where): a JSON array, NULL with err. */
json_t *syncs_in_progress(PGconn *c, char *err, size_t errlen);

/* The HTTP answers: a JSON body and its status (200, 404, 400, 503). */
json_t *syncs_status(PGconn *c, const char *user, const char *owner, const char *repo, int *status);
/* Cancels the user's sync of owner/repo: marks it cancelled, removes the
 * user's unclassified manual_pull issues of the repository, keeps the
 * classified ones, answers {success, message, issues_removed,
 * issues_classified}. sync_id receives the cancelled sync's id (64 bytes)
 * when the answer is 200. */
json_t *syncs_cancel(PGconn *c, const char *user, const char *owner, const char *repo, int *status,
                     char *sync_id);

#endif
