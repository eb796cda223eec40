/*
 * ledger.h -- exactly-once bookkeeping in PostgreSQL, in one place: every
 * statement about a record's effects and how they are made durable.
 *
 *   the storing transaction   an issue row upserted (a newer version wins),
 *                             its classification once per version, the
 *                             record's applied offset, its sync's progress
 *   applied offsets           read when a partition is assigned (the rows
 *                             committed above Kafka's commit point: never
 *                             classified again), pruned once Kafka has
 *                             committed past them
 *   published marks           enriched events Kafka acknowledged, so a
 *                             replay never publishes one twice; after a
 *                             crash, the oldest row never marked
 *
 * A transaction is one statement list with two executors: all statements
 * at once in libpq's pipeline mode (one round trip per batch), or one at a
 * time (to find the bad row of a batch). Records are described by
 * ledger_entry_t, so this layer knows nothing of actors.
 */
#ifndef DISPATCHD_LEDGER_H
#define DISPATCHD_LEDGER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "classification.h"
#include "event.h"
#include "strbuf.h"

/* Whose applied offsets: one consumer group reading one topic. */
typedef struct ledger_scope {
    const char *group;
    const char *topic;
} ledger_scope_t;

typedef struct ledger_entry {
    /* in */
    const issue_event_t *event;
    const char *raw;              /* the record's bytes, stored as raw_data */
    size_t raw_len;
    const char *user_id;          /* "" for none */
    const char *sync_id;          /* "" for none */
    int32_t partition;
    int64_t offset;
    bool retried;                 /* from the retry path: its offset is not the input's, so
                                     no applied offset (its effects are kept once by version) */
    bool replay;                  /* its rows were committed before: only look its
                                     classification up, if its event never went out */
    classification_t *cls;        /* in: the classification to store; out (replay):
                                     the stored one */
    const char *cls_json;         /* in: cls as JSON, or NULL to have it made */
    /* out */
    bool publish;                 /* an enriched event is due: a new version stored,
                                     or a stored one never acknowledged */
    int64_t row_id;               /* the issue row's id when its event is due (marks) */
    bool sync_dup;                /* its sync had stored this version already (the
                                     sync published it again after a restart): not
                                     counted twice */
    char error[512];              /* why the row was refused or deferred */
} ledger_entry_t;

typedef enum {
    LEDGER_OK,
    LEDGER_RETRY,                 /* connection trouble or a conflict: keep and retry */
    LEDGER_BAD,                   /* a row was refused (batch: find it one at a time) */
} ledger_status_t;

/* Stores n entries in one transaction. New issues go by COPY when they
 * can (*by_copy says whether they did), the rest by statements, pipelined.
 * LEDGER_BAD: some entry was refused and nothing was committed. */
ledger_status_t ledger_store_batch(const ledger_scope_t *scope, PGconn *c, ledger_entry_t *e, int n, bool *by_copy);
/* Stores one entry in its own transaction, one statement at a time. */
ledger_status_t ledger_store_one(const ledger_scope_t *scope, PGconn *c, ledger_entry_t *e);
/* A refused entry still counts as synced (not classified) for its sync. */
void ledger_count_refused(PGconn *c, const ledger_entry_t *e);

/* The applied offsets of these partitions at or above from[partition]
 * (from is indexed by partition, nfrom entries), each passed to fn. false:
 * the database did not answer. */
bool ledger_read_applied(const ledger_scope_t *scope, PGconn *c, const int32_t *partitions, int n,
                         const int64_t *from, int nfrom, void (*fn)(void *ctx, int32_t partition, int64_t offset),
                         void *ctx);
/* Applied offsets below `below` are history: Kafka committed past them. */
bool ledger_prune(const ledger_scope_t *scope, PGconn *c, int32_t partition, int64_t below);

/* Enriched events to mark as published, gathered then written at once:
 * by the stored row's id when known (ledger_entry_t.row_id), else by the
 * GitHub issue id. */
typedef struct ledger_marks {
    strbuf_t ids[2], versions[2];   /* by row id, by GitHub id */
    int n[2];
} ledger_marks_t;

void ledger_marks_init(ledger_marks_t *m);
/* row_id 0: not known, issue_id (GitHub's) is used. */
void ledger_marks_add(ledger_marks_t *m, int64_t row_id, int64_t issue_id, const char *updated_at);
/* Returns how many rows were marked, -1 on database trouble (the marks are
 * kept; write again). */
int ledger_marks_write(PGconn *c, ledger_marks_t *m);
void ledger_marks_free(ledger_marks_t *m);

/* When the oldest classification never marked published was stored (ms
 * since the epoch), 0 if there is none, -1 on error. */
int64_t ledger_oldest_unmarked_ms(PGconn *c);

#endif
