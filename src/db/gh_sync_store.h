/*
 * gh_sync_store.h -- what a sync from the GitHub API keeps in PostgreSQL
 * (schema migration 7): its checkpoint in repository_syncs after each page
 * (cursor and counts, written only once the page's events are in Kafka),
 * its waits, the lease of the process running it (renewed while it runs;
 * an expired one is taken over, so a sync whose process died resumes
 * elsewhere or after a restart), each page's ETag and where it led
 * (github_pages), and where a repository's next sync starts
 * (github_repos). Registration, completion and cancel are syncs.h's.
 */
#ifndef DISPATCHD_GH_SYNC_STORE_H
#define DISPATCHD_GH_SYNC_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The counts a GitHub sync keeps. */
typedef struct gh_counts {
    long fetched;                 /* issues received (pull requests not included) */
    long published;               /* events published to issues.raw */
    long unchanged;               /* issues received already stored in that version */
    long prs;                     /* pull requests skipped */
    long pages;                   /* pages answered (304s included) */
    long waits;                   /* rate-limit waits (claim only: gh_store_wait counts them) */
} gh_counts_t;

/* A sync to resume. */
typedef struct gh_claimed {
    char sync_id[64], user[256], owner[256], repo[256];
    long total;
    char *cursor;                 /* the checkpoint's cursor (JSON); the caller frees */
    gh_counts_t counts;
} gh_claimed_t;

/* Takes over the syncs still fetching whose lease expired (user, owner and
 * repo narrow it when not NULL); at most `max`. The number taken, -1 when
 * the database did not answer (err). */
int gh_store_claim(PGconn *c, const char *lease_owner, int lease_s, const char *user, const char *owner,
                   const char *repo, gh_claimed_t *out, int max, char *err, size_t errlen);

/* After a page: the cursor and counts, the sync `syncing`, the lease
 * renewed, a wait that is over cleared. 1: saved; 0: the sync is no longer ours to run
 * (cancelled, failed, or taken over); -1: the database did not answer. */
int gh_store_checkpoint(PGconn *c, const char *sync_id, const char *lease_owner, int lease_s, const char *cursor,
                        const gh_counts_t *n, char *err, size_t errlen);
/* A wait on GitHub's limits or errors: shown in the sync's status until
 * until_ms (Unix ms); rate_limit says whether it counts as a rate-limit
 * wait. The same answers as gh_store_checkpoint. */
int gh_store_wait(PGconn *c, const char *sync_id, const char *lease_owner, int lease_s, long long until_ms,
                  const char *reason, bool rate_limit, char *err, size_t errlen);
/* Whether the sync is still running and this process's to run: 1 yes,
 * 0 no (cancelled, ended, taken over), -1 no answer. Asked before each
 * page, so a cancel stops the fetch within the page in flight. */
int gh_store_running(PGconn *c, const char *sync_id, const char *lease_owner, char *err, size_t errlen);

/* Renews the lease of these syncs (while a sync waits or publishes); the
 * ids no longer ours come back in gone[] (true). -1: no answer. */
int gh_store_renew(PGconn *c, const char *lease_owner, int lease_s, const char *const *sync_ids, int n, bool *gone,
                   char *err, size_t errlen);

/* A process stopping gives its syncs' leases up: the next process takes
 * them over at once. */
void gh_store_release(PGconn *c, const char *lease_owner);

/* The token's turn, shared by the group: 1 taken by holder (for busy_s at
 * most, until given back); 0 not now: *wait_ms until it may be asked again
 * and, when GitHub's limits hold it (rather than another process's request
 * in flight), why in reason (with *rate_limit); -1 no answer. */
int gh_store_token_take(PGconn *c, const char *api_url, const char *holder, int busy_s, long long *wait_ms,
                        char *reason, size_t reason_len, bool *rate_limit, char *err, size_t errlen);
/* The turn given back after an answer; nothing may be sent for wait_ms. */
int gh_store_token_give(PGconn *c, const char *api_url, const char *holder, long long wait_ms, const char *reason,
                        bool rate_limit, char *err, size_t errlen);

/* The ETag GitHub gave url last time, and where that page led (`after`,
 * JSON; not read when after is NULL); both malloc'd, NULL when none. */
int gh_store_page_get(PGconn *c, const char *repository, const char *url, char **etag, char **after, char *err,
                      size_t errlen);
int gh_store_page_put(PGconn *c, const char *repository, const char *url, const char *etag, const char *after,
                      char *err, size_t errlen);

/* Where the repository's next sync starts (a cursor's JSON, malloc'd), or
 * NULL: from the beginning. */
int gh_store_repo_get(PGconn *c, const char *repository, char **cursor, char *err, size_t errlen);
/* A sync fetched every page: the next starts where it ended; pages not
 * asked since the sync started are forgotten. */
int gh_store_repo_put(PGconn *c, const char *repository, const char *cursor, const char *sync_id, char *err,
                      size_t errlen);

/* For each of n issue ids, the stored version's updated_at (ms, -1 when
 * not stored) and whether sync_id stored it. */
int gh_store_known(PGconn *c, const long long *ids, int n, const char *sync_id, long long *stored_ms, bool *by_sync,
                   char *err, size_t errlen);

#endif
