/*
 * ledger_copy.c -- a batch of issues the database has none of, written by
 * COPY: its multi-row inserts cost the server about four fifths of what
 * the upsert statement's row-at-a-time inserts, conflict checks and per-row
 * answers do (the storage benchmark: ~65 against ~80 us a row), and a batch of new issues -- a first sync, a backfill, the
 * usual webhook -- needs none of those. Everything else about the
 * transaction is the statements path's (ledger.c): the applied offsets
 * and the syncs' progress, in the same commit. An issue that
 * appears meanwhile makes the COPY fail on its unique key, and the batch
 * goes the statements way, row by row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issue_row.h"
#include "ledger_internal.h"
#include "log.h"
#include "schema.h"
#include "syncs.h"

/* Below this many rows the statement is as quick, and the extra round
 * trips would show. */
#define COPY_MIN_ROWS 16

static const char *const EXISTING_SQL =
    "SELECT 1 FROM dispatchai.issues WHERE github_issue_id = ANY($1::bigint[]) LIMIT 1";
static const char *const CANCELLED_SQL =
    "SELECT 1 FROM dispatchai.repository_syncs WHERE sync_id = ANY($1::text[]) AND sync_status = 'cancelled' LIMIT 1";
static const char *const IDS_SQL = "SELECT nextval('dispatchai.issues_id_seq') FROM generate_series(1, $1::int)";

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* No replays, each issue once, enough rows. */
static bool fits(const ledger_entry_t *e, int n)
{
    if (n < COPY_MIN_ROWS)
        return false;
    int64_t *ids = malloc((size_t)n * sizeof(*ids));
    if (ids == NULL)
        abort();
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        ok = !e[i].replay;
        ids[i] = ok ? e[i].event->issue_id : 0;
    }
    qsort(ids, (size_t)n, sizeof(*ids), by_value);
    for (int i = 1; i < n && ok; i++)
        ok = ids[i] != ids[i - 1];
    free(ids);
    return ok;
}

typedef struct copy_tx {
    PGconn *c;
    bool failed;                  /* a statement failed: the transaction is rolled back */
    ledger_status_t st;
} copy_tx_t;

/* One statement; its result kept when want is TUPLES_OK (caller clears). */
static PGresult *run(copy_tx_t *t, const char *sql, int n, const char *const *v, ExecStatusType want)
{
    if (t->failed)
        return NULL;
    PGresult *r = n > 0 ? PQexecParams(t->c, sql, n, NULL, v, NULL, NULL, 0) : PQexec(t->c, sql);
    if (PQresultStatus(r) == want)
        return r;
    t->failed = true;
    t->st = ledger_transient(r, t->c) ? LEDGER_RETRY : LEDGER_BAD;
    if (t->st == LEDGER_RETRY)
        log_warn("ledger", "batch by COPY deferred: %s", PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
}

static void command(copy_tx_t *t, const char *sql, int n, const char *const *v)
{
    PQclear(run(t, sql, n, v, PGRES_COMMAND_OK));
}

/* Whether the query answered with any row (false on failure too). */
static bool any_row(copy_tx_t *t, const char *sql, const char *v)
{
    PGresult *r = run(t, sql, 1, &v, PGRES_TUPLES_OK);
    bool any = r != NULL && PQntuples(r) > 0;
    PQclear(r);
    return any;
}

static void copy_in(copy_tx_t *t, const char *sql, const strbuf_t *data)
{
    if (t->failed)
        return;
    PGresult *r = pg_copy_in(t->c, sql, data->data, data->len);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        t->failed = true;
        t->st = ledger_transient(r, t->c) ? LEDGER_RETRY : LEDGER_BAD;
    }
    PQclear(r);
}

/* Both tables' rows in COPY's text format, with the ids given. */
static void format_rows(const ledger_entry_t *e, int n, char (*ids)[24], strbuf_t *issues, strbuf_t *enriched)
{
    for (int i = 0; i < n; i++) {
        issue_row_t row;
        issue_row_build(&row, e[i].event, e[i].cls, e[i].cls_json, e[i].raw, e[i].raw_len, e[i].user_id);
        const char *sync = e[i].sync_id && e[i].sync_id[0] ? e[i].sync_id : NULL;
        pg_copy_field(issues, ids[i], 0);
        for (int k = 0; k < ISSUE_ROW_ISSUE_COLUMNS; k++)
            pg_copy_field(issues, row.v[k], 0);
        pg_copy_field(issues, sync, 1);
        pg_copy_field(enriched, ids[i], 0);
        for (int k = ISSUE_ROW_ISSUE_COLUMNS; k < ISSUE_ROW_NPARAMS; k++)
            pg_copy_field(enriched, row.v[k], 0);
        pg_copy_field(enriched, e[i].event->updated_at, 1);
        issue_row_free(&row);
    }
}

/* The rows, with ids taken from the issues' sequence (the enriched rows
 * need them): the issues by COPY, then their classifications. */
static void write_rows(copy_tx_t *t, ledger_entry_t *e, int n, strbuf_t *issues, strbuf_t *enriched)
{
    char count[16], (*ids)[24] = calloc((size_t)n, sizeof(*ids));
    if (ids == NULL)
        abort();
    snprintf(count, sizeof(count), "%d", n);
    PGresult *r = run(t, IDS_SQL, 1, (const char *const[]){count}, PGRES_TUPLES_OK);
    if (r != NULL && PQntuples(r) != n) {
        t->failed = true;   /* cannot happen: a value per row */
        t->st = LEDGER_RETRY;
    }
    for (int i = 0; r != NULL && !t->failed && i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%s", PQgetvalue(r, i, 0));
        e[i].row_id = strtoll(ids[i], NULL, 10);
    }
    PQclear(r);
    if (!t->failed) {
        strbuf_t sql;
        sb_init(&sql);
        format_rows(e, n, ids, issues, enriched);
        sb_printf(&sql, "COPY dispatchai.issues (id, %s, last_sync_id) FROM STDIN", ISSUE_ROW_ISSUE_COLS);
        copy_in(t, sql.data, issues);
        sql.len = 0;
        sb_printf(&sql, "COPY dispatchai.enriched_issues (issue_id, %s, source_updated_at) FROM STDIN",
                  ISSUE_ROW_ENRICHED_COLS);
        copy_in(t, sql.data, enriched);
        sb_free(&sql);
    }
    free(ids);
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool ledger_copy_batch(const ledger_scope_t *scope, PGconn *c, ledger_entry_t *e, int n, ledger_status_t *st)
{
    if (!fits(e, n))
        return false;
    copy_tx_t t = {.c = c, .st = LEDGER_OK};
    strbuf_t gids, syncs, parts, offs, issues, enriched;
    sb_init(&gids);
    sb_init(&syncs);
    sb_init(&parts);
    sb_init(&offs);
    sb_init(&issues);
    sb_init(&enriched);
    const char *sync_ids[n];
    int nsyncs = 0, napplied = 0;
    for (int i = 0; i < n; i++) {
        sb_printf(&gids, "%s%lld", i ? "," : "{", (long long)e[i].event->issue_id);
        if (!e[i].retried) {
            sb_printf(&parts, "%s%d", napplied ? "," : "{", e[i].partition);
            sb_printf(&offs, "%s%lld", napplied ? "," : "{", (long long)e[i].offset);
            napplied++;
        }
        if (e[i].sync_id != NULL && e[i].sync_id[0] != '\0')
            sync_ids[nsyncs++] = e[i].sync_id;
    }
    sb_puts(&gids, "}");
    sb_puts(&parts, "}");
    sb_puts(&offs, "}");
    /* each sync once, in id order (two transactions never wait on each
     * other's sync rows in a cycle) */
    qsort(sync_ids, (size_t)nsyncs, sizeof(sync_ids[0]), by_string);
    int distinct = 0;
    for (int i = 0; i < nsyncs; i++)
        if (distinct == 0 || strcmp(sync_ids[distinct - 1], sync_ids[i]) != 0)
            sync_ids[distinct++] = sync_ids[i];
    for (int i = 0; i < distinct; i++)
        sb_printf(&syncs, "%s\"%s\"", i ? "," : "{", sync_ids[i]);
    sb_puts(&syncs, distinct ? "}" : "{}");

    bool taken = true;
    command(&t, "BEGIN", 0, NULL);
    if (distinct > 0) {
        PQclear(run(&t, SYNCS_LOCK_SHARED_SQL, 1, (const char *const[]){syncs.data}, PGRES_TUPLES_OK));
        taken = !any_row(&t, CANCELLED_SQL, syncs.data);   /* its events store nothing: the statements decide */
    }
    if (taken)
        taken = !any_row(&t, EXISTING_SQL, gids.data);
    if (taken && !t.failed) {
        write_rows(&t, e, n, &issues, &enriched);
        if (napplied > 0)
            command(&t, LEDGER_APPLIED_SQL, 4, (const char *const[]){scope->group, scope->topic, parts.data, offs.data});
        for (int j = 0; j < distinct; j++) {
            int of = 0;   /* new rows: none stored by this sync before */
            for (int i = 0; i < n; i++)
                of += e[i].sync_id != NULL && strcmp(e[i].sync_id, sync_ids[j]) == 0;
            char count[16];
            snprintf(count, sizeof(count), "%d", of);
            command(&t, LEDGER_SYNC_PROGRESS_SQL, 3, (const char *const[]){sync_ids[j], count, count});
        }
        command(&t, "COMMIT", 0, NULL);
    }
    if (t.failed || !taken)
        PQclear(PQexec(c, "ROLLBACK"));
    *st = t.failed ? t.st : LEDGER_OK;
    for (int i = 0; i < n && taken && !t.failed; i++) {
        e[i].publish = true;
        e[i].sync_dup = false;
    }
    sb_free(&gids);
    sb_free(&syncs);
    sb_free(&parts);
    sb_free(&offs);
    sb_free(&issues);
    sb_free(&enriched);
    return taken || t.failed;
}
