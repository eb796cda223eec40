/*
 * ledger.c -- see ledger.h.
 */
#include "ledger.h"
#include "ledger_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issue_row.h"
#include "log.h"
#include "schema.h"
#include "syncs.h"

/* A round of a batch's rows in one statement (no two of the same issue:
 * see tx_build), each column a text[] sent in the binary format (text
 * arrays were a fifth of the server's time to read, quoting included),
 * cast to its type here. Per row, in order: whether the
 * issue row was stored (a newer version wins), whether its classification
 * was, whether this version was stored before but its event never
 * acknowledged, and whether the same sync had stored this version already
 * (those two see the tables as they were before the statement). One
 * statement a round instead of one a row: executor start-up, constraint
 * set-up and trigger queues are paid once, not per row. */
static const char *UPSERT_SQL =
    /* the issues, their wide columns read once: straight from the arrays
     * into the insert (a CTE read twice is materialized, and copying the
     * bodies around cost more than the inserts) */
    "WITH up AS ("
    " INSERT INTO dispatchai.issues (github_issue_id, repository_owner, repository_name, issue_number,"
    "  title, body, state, labels, assignees, author, created_at, updated_at, closed_at, raw_data,"
    "  sync_source, pulled_by_user_id, processed_at, last_sync_id)"
    " SELECT v.gid::bigint, v.owner, v.repo, v.num::int, v.title, v.body, v.state, v.labels::jsonb,"
    "  v.assignees::jsonb, v.author, v.created::timestamptz, v.updated::timestamptz, v.closed::timestamptz,"
    "  v.raw::jsonb, v.source, v.puller, now(), v.sync_id"
    " FROM (SELECT unnest($1::text[]) AS gid, unnest($2::text[]) AS owner, unnest($3::text[]) AS repo,"
    "  unnest($4::text[]) AS num, unnest($5::text[]) AS title, unnest($6::text[]) AS body,"
    "  unnest($7::text[]) AS state, unnest($8::text[]) AS labels, unnest($9::text[]) AS assignees,"
    "  unnest($10::text[]) AS author, unnest($11::text[]) AS created, unnest($12::text[]) AS updated,"
    "  unnest($13::text[]) AS closed, unnest($14::text[]) AS raw, unnest($15::text[]) AS source,"
    "  unnest($16::text[]) AS puller, unnest($30::text[]) AS sync_id) AS v"
    /* an event of a sync cancelled meanwhile stores nothing (the sync
     * locks taken first make that decision stick) */
    " WHERE v.sync_id IS NULL OR NOT EXISTS (SELECT 1 FROM dispatchai.repository_syncs s"
    "  WHERE s.sync_id = v.sync_id AND s.sync_status = 'cancelled')"
    " ON CONFLICT (github_issue_id) DO UPDATE SET repository_owner = EXCLUDED.repository_owner,"
    "  repository_name = EXCLUDED.repository_name, issue_number = EXCLUDED.issue_number,"
    "  title = EXCLUDED.title, body = EXCLUDED.body, state = EXCLUDED.state, labels = EXCLUDED.labels,"
    "  assignees = EXCLUDED.assignees, author = EXCLUDED.author, created_at = EXCLUDED.created_at,"
    "  updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at, raw_data = EXCLUDED.raw_data,"
    "  processed_at = now(), last_sync_id = EXCLUDED.last_sync_id"
    " WHERE dispatchai.issues.updated_at IS NULL OR EXCLUDED.updated_at IS NULL"
    "  OR dispatchai.issues.updated_at <= EXCLUDED.updated_at"
    " RETURNING id, github_issue_id),"
    /* their classifications, for the issues stored */
    " en AS ("
    " INSERT INTO dispatchai.enriched_issues (issue_id, classification, category, priority, severity,"
    "  estimated_effort, component, confidence_score, tags, summary, ai_reasoning, processing_model,"
    "  provider, cost_usd, source_updated_at, processed_at)"
    " SELECT up.id, c.cls::jsonb, c.category, c.priority, c.severity, c.effort, c.component, c.conf::numeric,"
    "  c.tags::text[], c.summary, c.reasoning, c.model, c.provider, c.cost::numeric, c.updated::timestamptz, now()"
    " FROM up JOIN (SELECT unnest($1::text[])::bigint AS gid, unnest($12::text[]) AS updated,"
    "  unnest($17::text[]) AS cls, unnest($18::text[]) AS category, unnest($19::text[]) AS priority,"
    "  unnest($20::text[]) AS severity, unnest($21::text[]) AS effort, unnest($22::text[]) AS component,"
    "  unnest($23::text[]) AS conf, unnest($24::text[]) AS tags, unnest($25::text[]) AS summary,"
    "  unnest($26::text[]) AS reasoning, unnest($27::text[]) AS model, unnest($28::text[]) AS provider,"
    "  unnest($29::text[]) AS cost) AS c"
    "  ON c.gid = up.github_issue_id"
    " ON CONFLICT (issue_id) DO UPDATE SET classification = EXCLUDED.classification,"
    "  category = EXCLUDED.category, priority = EXCLUDED.priority, severity = EXCLUDED.severity,"
    "  estimated_effort = EXCLUDED.estimated_effort, component = EXCLUDED.component,"
    "  confidence_score = EXCLUDED.confidence_score, tags = EXCLUDED.tags, summary = EXCLUDED.summary,"
    "  ai_reasoning = EXCLUDED.ai_reasoning, processing_model = EXCLUDED.processing_model,"
    "  provider = EXCLUDED.provider, cost_usd = EXCLUDED.cost_usd,"
    "  source_updated_at = EXCLUDED.source_updated_at, processed_at = now()"
    " WHERE dispatchai.enriched_issues.source_updated_at IS DISTINCT FROM EXCLUDED.source_updated_at"
    " RETURNING issue_id)"
    /* per row, in order */
    " SELECT up.id IS NOT NULL, en.issue_id IS NOT NULL,"
    "  CASE WHEN en.issue_id IS NULL THEN"   /* (only then asked: two lookups a row otherwise) */
    "  (SELECT e.issue_id FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id"
    "   WHERE i.github_issue_id = k.gid AND e.source_updated_at IS NOT DISTINCT FROM k.updated"
    "   AND e.published_at IS NULL) END,"
    "  EXISTS (SELECT 1 FROM dispatchai.issues i WHERE k.sync_id IS NOT NULL AND i.github_issue_id = k.gid"
    "   AND i.last_sync_id = k.sync_id AND i.updated_at IS NOT DISTINCT FROM k.updated), up.id"
    " FROM unnest($1::text[]::bigint[], $12::text[]::timestamptz[], $30::text[]) WITH ORDINALITY AS k(gid, updated,"
    "  sync_id, ord)"
    " LEFT JOIN up ON up.github_issue_id = k.gid LEFT JOIN en ON en.issue_id = up.id ORDER BY k.ord";

/* The records whose rows this transaction commits: a row per partition
 * of the batch, its offsets in an array (a row per record cost the server
 * an insert, an index entry and a delete for each event). */
const char *const LEDGER_APPLIED_SQL =
    "INSERT INTO dispatchai.applied_batches (consumer_group, topic, kafka_partition, last_offset, kafka_offsets)"
    " SELECT $1, $2, v.p, max(v.o), array_agg(v.o ORDER BY v.o) FROM unnest($3::int[], $4::bigint[]) AS v(p, o)"
    " GROUP BY v.p";

/* A replayed record whose rows are committed: its classification, if its
 * enriched event was never acknowledged. */
static const char *REPLAY_SQL =
    "SELECT e.classification, e.processing_model, e.provider, e.cost_usd, e.issue_id"
    " FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id"
    " WHERE i.github_issue_id = $1 AND e.source_updated_at IS NOT DISTINCT FROM $2::timestamptz"
    " AND e.published_at IS NULL";

/* A batch's events of one sync: counted in the batch's transaction, so a
 * replay never counts twice; the sync completes when all are in (of a
 * sync still fetching from GitHub, the total is not known yet). */
const char *const LEDGER_SYNC_PROGRESS_SQL =
    "UPDATE dispatchai.repository_syncs SET issues_synced = issues_synced + $2,"
    " issues_classified = issues_classified + $3, updated_at = now(),"
    " sync_status = CASE WHEN sync_status IN ('pending', 'syncing') AND NOT fetching"
    "   AND issues_synced + $2 >= issues_total"
    "   THEN 'completed' WHEN sync_status = 'pending' THEN 'syncing' ELSE sync_status END"
    " WHERE sync_id = $1 AND sync_status IN ('pending', 'syncing')";

static const char *READ_APPLIED_SQL =
    "SELECT b.kafka_partition, o FROM dispatchai.applied_batches b, unnest(b.kafka_offsets) AS o"
    " WHERE b.consumer_group = $1 AND b.topic = $2 AND b.kafka_partition = ANY($3::int[])"
    " ORDER BY b.kafka_partition, o";

/* A batch whose last offset Kafka has committed past is history. */
static const char *PRUNE_SQL =
    "DELETE FROM dispatchai.applied_batches WHERE consumer_group = $1 AND topic = $2"
    " AND kafka_partition = $3 AND last_offset < $4";

/* Marks by the row's id when storage knows it (one index lookup), by
 * GitHub id when only the enriched topic is at hand (reconciling after a
 * crash). */
static const char *const MARK_SQL[2] = {
    "UPDATE dispatchai.enriched_issues e SET published_at = now()"
    " FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, ver)"
    " WHERE e.issue_id = v.id AND e.source_updated_at IS NOT DISTINCT FROM v.ver AND e.published_at IS NULL",
    "UPDATE dispatchai.enriched_issues e SET published_at = now()"
    " FROM dispatchai.issues i, unnest($1::bigint[], $2::timestamptz[]) AS v(gid, ver)"
    " WHERE e.issue_id = i.id AND i.github_issue_id = v.gid"
    " AND e.source_updated_at IS NOT DISTINCT FROM v.ver AND e.published_at IS NULL",
};

static const char *OLDEST_UNMARKED_SQL =
    "SELECT (extract(epoch FROM min(processed_at)) * 1000)::bigint"
    " FROM dispatchai.enriched_issues WHERE published_at IS NULL";

#define NPARAMS (ISSUE_ROW_NPARAMS + 1)   /* the row, then its sync_id */

/* SQLSTATE classes that mean "try again", not "this row is bad". */
bool ledger_transient(const PGresult *res, PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return true;
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (st == NULL)
        return true;
    return strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 || strncmp(st, "53", 2) == 0 ||
           strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
}

/* --- the storing transaction as a statement list ------------------------- */

typedef enum { ST_BEGIN, ST_LOCK, ST_REPLAY, ST_ROWS, ST_APPLIED, ST_SYNC, ST_COMMIT } stmt_kind_t;

/* Every statement goes unnamed, planned for its actual arrays: a cached
 * generic plan, chosen while the tables were small, turned lookups into
 * scans that stalled a writer for seconds once the tables grew. */
typedef struct stmt {
    stmt_kind_t kind;
    const char *sql;
    int n;
    const char *v[NPARAMS];
    int len[NPARAMS], fmt[NPARAMS];   /* ST_ROWS: binary (the arrays) */
    ledger_entry_t **entries;     /* ST_ROWS: its rows, in order; ST_REPLAY: &one */
    ledger_entry_t *one;
    int nentries;
    strbuf_t cols[NPARAMS];       /* ST_ROWS: each column's array */
    char id[24], a[16];
} stmt_t;

typedef struct tx {
    PGconn *conn;                 /* while it is executed */
    stmt_t *s;
    int n;
    issue_row_t *rows;            /* per entry (not a replay's): owns the values */
    int nrows;
    ledger_entry_t **order;       /* the ST_ROWS statements' entries */
    strbuf_t lock_ids, parts, offs;
} tx_t;

typedef struct sync_count {
    const char *id;
} sync_count_t;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const sync_count_t *)a)->id, ((const sync_count_t *)b)->id);
}

static stmt_t *add(tx_t *t, stmt_kind_t kind, const char *sql)
{
    stmt_t *st = &t->s[t->n++];
    st->kind = kind;
    st->sql = sql;
    return st;
}

typedef struct issue_place {
    int64_t issue_id;
    int at;                       /* the entry's place in the batch */
} issue_place_t;

static int by_issue_then_place(const void *a, const void *b)
{
    const issue_place_t *x = a, *y = b;
    if (x->issue_id != y->issue_id)
        return x->issue_id < y->issue_id ? -1 : 1;
    return x->at - y->at;
}

/* One statement for the rows of entries idx[0..n): each column an array. */
static void add_rows(tx_t *t, ledger_entry_t *e, const int *idx, int n, ledger_entry_t **slot)
{
    stmt_t *st = add(t, ST_ROWS, UPSERT_SQL);
    st->n = NPARAMS;
    st->entries = slot;
    st->nentries = n;
    const char *col[n > 0 ? n : 1];
    for (int k = 0; k < NPARAMS; k++) {
        for (int j = 0; j < n; j++) {
            const ledger_entry_t *x = &e[idx[j]];
            col[j] = k < ISSUE_ROW_NPARAMS ? t->rows[idx[j]].v[k] : x->sync_id && x->sync_id[0] ? x->sync_id : NULL;
        }
        strbuf_t *b = &st->cols[k];
        sb_init(b);
        pg_binary_text_array(b, col, n);
        st->v[k] = b->data;
        st->len[k] = (int)b->len;
        st->fmt[k] = 1;
    }
    for (int j = 0; j < n; j++)
        slot[j] = &e[idx[j]];
}

/* BEGIN, the syncs' locks, the replays' lookups, the rows in rounds, the
 * applied offsets, a progress count per sync (in sync id order, so two
 * transactions never wait on each other's sync rows in a cycle), COMMIT.
 * A round holds at most one version of an issue (a statement cannot
 * update one row twice), so a batch with two versions of one issue writes
 * them one after the other, in their order, as one at a time would. */
static void tx_build(tx_t *t, const ledger_scope_t *scope, ledger_entry_t *e, int n)
{
    memset(t, 0, sizeof(*t));
    /* An entry's round: how many versions of its issue come before it in
     * the batch (sorted by issue, then place: no pass over earlier entries
     * for each, which a batch of thousands would feel). */
    int round[n > 0 ? n : 1], idx[n > 0 ? n : 1], rounds = 0, replays = 0;
    issue_place_t place[n > 0 ? n : 1];
    int np = 0;
    for (int i = 0; i < n; i++) {
        round[i] = 0;
        if (e[i].replay)
            replays++;
        else
            place[np++] = (issue_place_t){e[i].event->issue_id, i};
    }
    qsort(place, (size_t)np, sizeof(place[0]), by_issue_then_place);
    for (int k = 0; k < np; k++) {
        round[place[k].at] = k > 0 && place[k - 1].issue_id == place[k].issue_id ? round[place[k - 1].at] + 1 : 0;
        if (round[place[k].at] + 1 > rounds)
            rounds = round[place[k].at] + 1;
    }
    sb_init(&t->lock_ids);
    sb_init(&t->parts);
    sb_init(&t->offs);
    sync_count_t counts[n > 0 ? n : 1];
    int nsyncs = 0, napplied = 0;
    sb_puts(&t->lock_ids, "{");
    sb_puts(&t->parts, "{");
    sb_puts(&t->offs, "{");
    for (int i = 0; i < n; i++) {
        if (e[i].replay)
            continue;
        if (!e[i].retried) {
            sb_printf(&t->parts, "%s%d", napplied ? "," : "", e[i].partition);
            sb_printf(&t->offs, "%s%lld", napplied ? "," : "", (long long)e[i].offset);
            napplied++;
        }
        const char *id = e[i].sync_id;
        if (id == NULL || id[0] == '\0')
            continue;
        sb_printf(&t->lock_ids, "%s\"%s\"", t->lock_ids.len > 1 ? "," : "", id);
        int j = 0;
        while (j < nsyncs && strcmp(counts[j].id, id) != 0)
            j++;
        if (j == nsyncs)
            counts[nsyncs++] = (sync_count_t){id};
    }
    sb_puts(&t->lock_ids, "}");
    sb_puts(&t->parts, "}");
    sb_puts(&t->offs, "}");
    /* BEGIN, a lock, the replays, the rounds, the applied offsets, the
     * syncs, COMMIT (a statement carries a column buffer per parameter:
     * sized for the batch's, not for the worst case) */
    t->s = calloc((size_t)(replays + rounds + nsyncs + 4), sizeof(*t->s));
    t->rows = calloc((size_t)(n > 0 ? n : 1), sizeof(*t->rows));
    t->order = calloc((size_t)(n > 0 ? n : 1), sizeof(*t->order));
    if (t->s == NULL || t->rows == NULL || t->order == NULL)
        abort();
    t->nrows = n;
    add(t, ST_BEGIN, "BEGIN");
    if (nsyncs > 0) {
        stmt_t *st = add(t, ST_LOCK, SYNCS_LOCK_SHARED_SQL);
        st->n = 1;
        st->v[0] = t->lock_ids.data;
    }
    for (int i = 0; i < n; i++) {
        if (e[i].replay) {
            stmt_t *st = add(t, ST_REPLAY, REPLAY_SQL);
            st->n = 2;
            snprintf(st->id, sizeof(st->id), "%lld", (long long)e[i].event->issue_id);
            st->v[0] = st->id;
            st->v[1] = e[i].event->updated_at;
            st->one = &e[i];
            st->entries = &st->one;
            st->nentries = 1;
            continue;
        }
        issue_row_build(&t->rows[i], e[i].event, e[i].cls, e[i].cls_json, e[i].raw, e[i].raw_len, e[i].user_id);
    }
    /* Each round's entries, one run after the other, in GitHub id order:
     * the statement writes them in the order of its arrays, so two writers
     * never wait on each other's rows in a cycle (sorted here, not by a
     * sort of the wide rows in the statement). */
    ledger_entry_t **slot = t->order;
    for (int r = 0; r < rounds; r++) {
        int m = 0;
        for (int k = 0; k < np; k++)
            if (round[place[k].at] == r)
                idx[m++] = place[k].at;
        add_rows(t, e, idx, m, slot);
        slot += m;
    }
    if (napplied > 0) {
        stmt_t *st = add(t, ST_APPLIED, LEDGER_APPLIED_SQL);
        st->n = 4;
        st->v[0] = scope->group;
        st->v[1] = scope->topic;
        st->v[2] = t->parts.data;
        st->v[3] = t->offs.data;
    }
    qsort(counts, (size_t)nsyncs, sizeof(counts[0]), by_id);
    for (int j = 0; j < nsyncs; j++) {
        stmt_t *st = add(t, ST_SYNC, LEDGER_SYNC_PROGRESS_SQL);
        st->n = 3;
        st->v[0] = counts[j].id;   /* the count: sync_count_fill, once the rows' results are in */
        st->v[1] = st->a;
        st->v[2] = st->a;   /* records that reach storage were classified: both counts */
    }
    add(t, ST_COMMIT, "COMMIT");
}
static void tx_free(tx_t *t)
{
    for (int i = 0; i < t->n; i++)
        if (t->s[i].kind == ST_ROWS)
            for (int k = 0; k < NPARAMS; k++)
                sb_free(&t->s[i].cols[k]);
    for (int i = 0; i < t->nrows; i++)
        issue_row_free(&t->rows[i]);
    free(t->rows);
    free(t->order);
    free(t->s);
    sb_free(&t->lock_ids);
    sb_free(&t->parts);
    sb_free(&t->offs);
}

/* A sync's progress statement counts the transaction's entries of that
 * sync, less those the sync had stored already: known only from the rows'
 * results, so it is filled just before it is sent. */
static void sync_count_fill(tx_t *t, stmt_t *sync)
{
    int n = 0;
    for (int i = 0; i < t->n; i++) {
        if (t->s[i].kind != ST_ROWS)
            continue;
        for (int j = 0; j < t->s[i].nentries; j++) {
            const ledger_entry_t *e = t->s[i].entries[j];
            if (!e->sync_dup && e->sync_id != NULL && strcmp(e->sync_id, sync->v[0]) == 0)
                n++;
        }
    }
    snprintf(sync->a, sizeof(sync->a), "%d", n);
}

/* A replay's lookup: publish from the stored classification if its event
 * never went out, else nothing to do. */
static void replay_result(ledger_entry_t *e, PGresult *res)
{
    e->publish = false;
    if (PQntuples(res) != 1)
        return;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    char err[200];
    if (j != NULL && cls_from_json(j, e->cls, err, sizeof(err)) == 0) {
        cls_copy_text(e->cls->model_version, sizeof(e->cls->model_version), PQgetvalue(res, 0, 1));
        cls_copy_text(e->cls->provider, sizeof(e->cls->provider), PQgetvalue(res, 0, 2));
        e->cls->cost_usd = 0;   /* spent by the first pass, not by this one */
        e->publish = true;
        e->row_id = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    } else {
        log_warn("ledger", "partition %d offset %lld: stored classification unreadable (%s); not republished",
                 e->partition, (long long)e->offset, j ? err : "not JSON");
    }
    json_decref(j);
}

static bool yes(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

/* What one statement's result means for the transaction. */
static ledger_status_t stmt_result(PGconn *c, stmt_t *st, PGresult *res)
{
    ExecStatusType rs = PQresultStatus(res);
    if (st->kind == ST_REPLAY && rs == PGRES_TUPLES_OK) {
        replay_result(st->one, res);
        return LEDGER_OK;
    }
    if (st->kind == ST_ROWS && rs == PGRES_TUPLES_OK) {
        if (PQntuples(res) != st->nentries)
            return LEDGER_RETRY;   /* cannot happen: one answer per row */
        for (int j = 0; j < st->nentries; j++) {
            ledger_entry_t *e = st->entries[j];
            bool stored = yes(res, j, 0), classified = yes(res, j, 1), unpublished = !PQgetisnull(res, j, 2);
            e->publish = (stored && classified) || unpublished;
            e->sync_dup = yes(res, j, 3);
            e->row_id = strtoll(PQgetvalue(res, j, unpublished ? 2 : 4), NULL, 10);
        }
        return LEDGER_OK;
    }
    if (st->kind != ST_ROWS && st->kind != ST_REPLAY && (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK))
        return LEDGER_OK;
    if (rs == PGRES_PIPELINE_ABORTED)
        return LEDGER_RETRY;
    const char *m = PQresultErrorMessage(res);
    for (int j = 0; j < st->nentries; j++)
        snprintf(st->entries[j]->error, sizeof(st->entries[j]->error), "database: %.*s", (int)strcspn(m, "\n"), m);
    return ledger_transient(res, c) ? LEDGER_RETRY : LEDGER_BAD;
}

static ledger_status_t worse(ledger_status_t a, ledger_status_t b)
{
    return a != LEDGER_OK ? a : b;
}

/* Sends one statement (its sync count filled first). */
static int stmt_send(tx_t *t, stmt_t *st)
{
    if (st->kind == ST_SYNC)
        sync_count_fill(t, st);
    return PQsendQueryParams(t->conn, st->sql, st->n, NULL, st->v, st->len, st->fmt, 0);
}

static PGresult *stmt_exec(tx_t *t, stmt_t *st)
{
    if (st->kind == ST_SYNC)
        sync_count_fill(t, st);
    return PQexecParams(t->conn, st->sql, st->n, NULL, st->v, st->len, st->fmt, 0);
}

/* Executor 1: every statement sent before the first result is read. After
 * an error the rest come back PGRES_PIPELINE_ABORTED and the server rolls
 * the transaction back at the sync point. A transaction with sync counts
 * sends those and its COMMIT after the rows' results are read (a second
 * round trip: the counts depend on them). */
static ledger_status_t tx_exec_pipelined(PGconn *c, tx_t *t)
{
    t->conn = c;
    int split = 0;
    while (split < t->n && t->s[split].kind != ST_SYNC)
        split++;
    if (PQenterPipelineMode(c) != 1)
        return LEDGER_RETRY;
    bool sent = true;
    for (int i = 0; i < split && sent; i++)
        sent = stmt_send(t, &t->s[i]) == 1;
    sent = sent && PQpipelineSync(c) == 1;
    ledger_status_t status = sent ? LEDGER_OK : LEDGER_RETRY;
    for (int i = 0; i < split && sent; i++) {
        PGresult *res = PQgetResult(c);
        if (res == NULL) {
            status = worse(status, LEDGER_RETRY);
            break;
        }
        ledger_status_t s = stmt_result(c, &t->s[i], res);
        /* the first failure is the one that counts: the rest are aborted */
        status = worse(status, s);
        PQclear(res);
        PQclear(PQgetResult(c));   /* the NULL that ends each statement's results */
    }
    /* Drain to the sync point so the connection is usable again. */
    for (;;) {
        PGresult *res = PQgetResult(c);
        if (res == NULL) {
            if (PQstatus(c) != CONNECTION_OK)
                break;
            continue;
        }
        ExecStatusType rs = PQresultStatus(res);
        PQclear(res);
        if (rs == PGRES_PIPELINE_SYNC)
            break;
    }
    PQexitPipelineMode(c);
    for (int i = split; i < t->n && status == LEDGER_OK; i++) {
        PGresult *res = stmt_exec(t, &t->s[i]);
        status = stmt_result(c, &t->s[i], res);
        PQclear(res);
    }
    if (status != LEDGER_OK) {
        /* A failed statement leaves the explicit transaction aborted past
         * the sync point; end it, or every later statement fails with
         * "current transaction is aborted" instead of its own error. */
        PQclear(PQexec(c, "ROLLBACK"));
    }
    return status;
}

/* Executor 2: one statement at a time, stopping at the first failure. */
static ledger_status_t tx_exec_each(PGconn *c, tx_t *t)
{
    t->conn = c;
    ledger_status_t status = LEDGER_OK;
    for (int i = 0; i < t->n && status == LEDGER_OK; i++) {
        PGresult *res = stmt_exec(t, &t->s[i]);
        status = stmt_result(c, &t->s[i], res);
        PQclear(res);
    }
    if (status != LEDGER_OK)
        PQclear(PQexec(c, "ROLLBACK"));
    return status;
}

ledger_status_t ledger_store_batch(const ledger_scope_t *scope, PGconn *c, ledger_entry_t *e, int n, bool *by_copy)
{
    ledger_status_t st;
    if ((*by_copy = ledger_copy_batch(scope, c, e, n, &st)))
        return st;
    tx_t t;
    tx_build(&t, scope, e, n);
    st = tx_exec_pipelined(c, &t);
    tx_free(&t);
    return st;
}

ledger_status_t ledger_store_one(const ledger_scope_t *scope, PGconn *c, ledger_entry_t *e)
{
    tx_t t;
    tx_build(&t, scope, e, 1);
    ledger_status_t st = tx_exec_each(c, &t);
    if (st != LEDGER_OK && e->error[0] == '\0')
        snprintf(e->error, sizeof(e->error), "database: %s", PQerrorMessage(c));
    tx_free(&t);
    return st;
}

void ledger_count_refused(PGconn *c, const ledger_entry_t *e)
{
    if (e->replay || e->sync_id == NULL || e->sync_id[0] == '\0')
        return;
    const char *v[3] = {e->sync_id, "1", "0"};
    PGresult *res = PQexecParams(c, LEDGER_SYNC_PROGRESS_SQL, 3, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        log_warn("ledger", "sync %s progress: %s", e->sync_id, PQresultErrorMessage(res));
    PQclear(res);
}

/* --- applied offsets ------------------------------------------------------ */

bool ledger_read_applied(const ledger_scope_t *scope, PGconn *c, const int32_t *partitions, int n,
                         const int64_t *from, int nfrom, void (*fn)(void *ctx, int32_t partition, int64_t offset),
                         void *ctx)
{
    strbuf_t list;
    sb_init(&list);
    sb_puts(&list, "{");
    for (int i = 0; i < n; i++)
        sb_printf(&list, "%s%d", i ? "," : "", partitions[i]);
    sb_puts(&list, "}");
    const char *v[3] = {scope->group, scope->topic, list.data};
    PGresult *r = PQexecParams(c, READ_APPLIED_SQL, 3, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (ok) {
        for (int row = 0; row < PQntuples(r); row++) {
            int32_t part = atoi(PQgetvalue(r, row, 0));
            int64_t off = strtoll(PQgetvalue(r, row, 1), NULL, 10);
            if (part >= 0 && part < nfrom && off >= from[part])
                fn(ctx, part, off);
        }
    } else {
        log_warn("ledger", "applied offsets not read: %s", PQresultErrorMessage(r));
    }
    PQclear(r);
    sb_free(&list);
    return ok;
}

bool ledger_prune(const ledger_scope_t *scope, PGconn *c, int32_t partition, int64_t below)
{
    char ps[16], bs[24];
    snprintf(ps, sizeof(ps), "%d", partition);
    snprintf(bs, sizeof(bs), "%lld", (long long)below);
    const char *v[4] = {scope->group, scope->topic, ps, bs};
    PGresult *res = PQexecParams(c, PRUNE_SQL, 4, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        log_warn("ledger", "pruning applied offsets: %s", PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* --- published marks ------------------------------------------------------ */

void ledger_marks_init(ledger_marks_t *m)
{
    for (int k = 0; k < 2; k++) {
        sb_init(&m->ids[k]);
        sb_init(&m->versions[k]);
        m->n[k] = 0;
    }
}

void ledger_marks_add(ledger_marks_t *m, int64_t row_id, int64_t issue_id, const char *updated_at)
{
    int k = row_id > 0 ? 0 : 1;
    sb_printf(&m->ids[k], "%s%lld", m->n[k] ? "," : "", (long long)(row_id > 0 ? row_id : issue_id));
    sb_printf(&m->versions[k], "%s%s%s%s", m->n[k] ? "," : "", updated_at ? "\"" : "",
              updated_at ? updated_at : "NULL", updated_at ? "\"" : "");
    m->n[k]++;
}

int ledger_marks_write(PGconn *c, ledger_marks_t *m)
{
    int marked = 0;
    for (int k = 0; k < 2; k++) {
        if (m->n[k] == 0)
            continue;
        strbuf_t ids, vers;
        sb_init(&ids);
        sb_init(&vers);
        sb_printf(&ids, "{%s}", m->ids[k].data);
        sb_printf(&vers, "{%s}", m->versions[k].data);
        const char *v[2] = {ids.data, vers.data};
        PGresult *res = PQexecParams(c, MARK_SQL[k], 2, NULL, v, NULL, NULL, 0);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (ok)
            marked += atoi(PQcmdTuples(res));
        else
            log_warn("ledger", "marking %d events as published deferred: %s", m->n[k], PQresultErrorMessage(res));
        PQclear(res);
        sb_free(&ids);
        sb_free(&vers);
        if (!ok)
            return -1;   /* a mark written twice marks nothing the second time */
    }
    return marked;
}

void ledger_marks_free(ledger_marks_t *m)
{
    for (int k = 0; k < 2; k++) {
        sb_free(&m->ids[k]);
        sb_free(&m->versions[k]);
        m->n[k] = 0;
    }
}

int64_t ledger_oldest_unmarked_ms(PGconn *c)
{
    PGresult *r = PQexec(c, OLDEST_UNMARKED_SQL);
    int64_t ms = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        ms = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        log_warn("ledger", "looking for unmarked events: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ms;
}
