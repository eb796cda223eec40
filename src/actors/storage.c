/*
 * storage.c -- the storage actor: a dedicated thread that owns one libpq
 * connection (libpq blocks; scheduler threads never do).
 *
 * Records are batched by count (storage_batch_size) and time
 * (storage_batch_window_ms) and written in one transaction. Each issue is
 * upserted on github_issue_id, a newer updated_at winning and an older one
 * never overwriting; its classification is upserted once per issue version.
 * Whether a new version was stored decides whether the publisher emits an
 * enriched event, so a replay publishes nothing twice. A batch that fails on
 * a row is retried row by row, so only the bad row goes to the DLQ. When the
 * database is unreachable the batch is kept and retried with capped
 * exponential backoff; the mailbox fills, and the partitions pause.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "faults.h"
#include "log.h"
#include "pipeline.h"
#include "issue_row.h"
#include "schema.h"
#include "syncs.h"
#include "strbuf.h"

#define PRUNE_EVERY_MS 1000


typedef struct storage_state {
    pipeline_t *p;
    PGconn *conn;
    record_t **batch;
    int nbatch, cap;
    record_t **marks;             /* acknowledged events to note as published */
    int nmarks, capmarks;
    uint64_t window_timer;        /* pending flush timer, 0 if none */
    uint64_t retry_timer;
    int retries;                  /* failed attempts in a row (BACKOFF_STORAGE) */
    int index;                    /* which of the pipeline's storage actors */
    int64_t prune_below[PIPELINE_MAX_PARTITIONS];   /* committed in Kafka; 0 = nothing to prune */
    bool prune_pending;
    uint64_t pruned_ms;
} storage_state_t;

static const char *UPSERT_SQL =
    "WITH up AS ("
    " INSERT INTO dispatchai.issues (github_issue_id, repository_owner, repository_name, issue_number,"
    "  title, body, state, labels, assignees, author, created_at, updated_at, closed_at, raw_data,"
    "  sync_source, pulled_by_user_id, processed_at)"
    " SELECT $1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12::timestamptz, $13, $14::jsonb, $15,"
    "  $16, now()"
    /* an event of a sync cancelled meanwhile stores nothing (see lock_syncs) */
    " WHERE NOT EXISTS (SELECT 1 FROM dispatchai.repository_syncs WHERE sync_id = $30::text"
    "  AND sync_status = 'cancelled')"
    " ON CONFLICT (github_issue_id) DO UPDATE SET repository_owner = EXCLUDED.repository_owner,"
    "  repository_name = EXCLUDED.repository_name, issue_number = EXCLUDED.issue_number,"
    "  title = EXCLUDED.title, body = EXCLUDED.body, state = EXCLUDED.state, labels = EXCLUDED.labels,"
    "  assignees = EXCLUDED.assignees, author = EXCLUDED.author, created_at = EXCLUDED.created_at,"
    "  updated_at = EXCLUDED.updated_at, closed_at = EXCLUDED.closed_at, raw_data = EXCLUDED.raw_data,"
    "  processed_at = now()"
    " WHERE dispatchai.issues.updated_at IS NULL OR EXCLUDED.updated_at IS NULL"
    "  OR dispatchai.issues.updated_at <= EXCLUDED.updated_at"
    " RETURNING id),"
    " en AS ("
    " INSERT INTO dispatchai.enriched_issues (issue_id, classification, category, priority, severity,"
    "  estimated_effort, component, confidence_score, tags, summary, ai_reasoning, processing_model,"
    "  provider, cost_usd, source_updated_at, processed_at)"
    " SELECT id, $17::jsonb, $18, $19, $20, $21, $22, $23::numeric, $24::text[], $25, $26, $27, $28,"
    "  $29::numeric, $12::timestamptz, now() FROM up"
    " ON CONFLICT (issue_id) DO UPDATE SET classification = EXCLUDED.classification,"
    "  category = EXCLUDED.category, priority = EXCLUDED.priority, severity = EXCLUDED.severity,"
    "  estimated_effort = EXCLUDED.estimated_effort, component = EXCLUDED.component,"
    "  confidence_score = EXCLUDED.confidence_score, tags = EXCLUDED.tags, summary = EXCLUDED.summary,"
    "  ai_reasoning = EXCLUDED.ai_reasoning, processing_model = EXCLUDED.processing_model,"
    "  provider = EXCLUDED.provider, cost_usd = EXCLUDED.cost_usd,"
    "  source_updated_at = EXCLUDED.source_updated_at, processed_at = now()"
    " WHERE dispatchai.enriched_issues.source_updated_at IS DISTINCT FROM EXCLUDED.source_updated_at"
    " RETURNING issue_id)"
    " SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM en),"
    /* this version stored before but its event never acknowledged */
    "  (SELECT count(*) FROM dispatchai.enriched_issues e"
    "   WHERE e.issue_id = (SELECT id FROM dispatchai.issues WHERE github_issue_id = $1)"
    "   AND e.source_updated_at IS NOT DISTINCT FROM $12::timestamptz AND e.published_at IS NULL)";

/* The records whose rows this transaction commits (see schema v3). */
static const char *APPLIED_SQL =
    "INSERT INTO dispatchai.applied_offsets (consumer_group, topic, kafka_partition, kafka_offset)"
    " SELECT $1, $2, v.p, v.o FROM unnest($3::int[], $4::bigint[]) AS v(p, o) ON CONFLICT DO NOTHING";

/* A replayed record whose rows are committed: its classification, if its
 * enriched event was never acknowledged. */
static const char *REPLAY_SQL =
    "SELECT e.classification, e.processing_model, e.provider, e.cost_usd"
    " FROM dispatchai.enriched_issues e JOIN dispatchai.issues i ON i.id = e.issue_id"
    " WHERE i.github_issue_id = $1 AND e.source_updated_at IS NOT DISTINCT FROM $2::timestamptz"
    " AND e.published_at IS NULL";

/* A batch's events of one sync: counted in the batch's transaction, so a
 * replay never counts twice; the sync completes when all are in. */
static const char *SYNC_PROGRESS_SQL =
    "UPDATE dispatchai.repository_syncs SET issues_synced = issues_synced + $2,"
    " issues_classified = issues_classified + $3, updated_at = now(),"
    " sync_status = CASE WHEN sync_status IN ('pending', 'syncing') AND issues_synced + $2 >= issues_total"
    "   THEN 'completed' WHEN sync_status = 'pending' THEN 'syncing' ELSE sync_status END"
    " WHERE sync_id = $1 AND sync_status IN ('pending', 'syncing')";

static const char *PRUNE_SQL =
    "DELETE FROM dispatchai.applied_offsets WHERE consumer_group = $1 AND topic = $2"
    " AND kafka_partition = $3 AND kafka_offset < $4";

const char *const MARK_PUBLISHED_SQL =
    "UPDATE dispatchai.enriched_issues e SET published_at = now()"
    " FROM dispatchai.issues i, unnest($1::bigint[], $2::timestamptz[]) AS v(gid, ver)"
    " WHERE e.issue_id = i.id AND i.github_issue_id = v.gid"
    " AND e.source_updated_at IS NOT DISTINCT FROM v.ver AND e.published_at IS NULL";

#define NPARAMS (ISSUE_ROW_NPARAMS + 1)   /* the row, then its sync_id */

static bool connected(storage_state_t *s)
{
    if (s->conn != NULL && PQstatus(s->conn) == CONNECTION_OK)
        return true;
    if (s->conn != NULL) {
        PQfinish(s->conn);
        s->conn = NULL;
        metric_add(&g_metrics.db_reconnects, 1);
    }
    char err[256];
    s->conn = pg_connect(s->p->cfg->database_url, err, sizeof(err));
    if (s->conn == NULL) {
        log_warn("storage", "%s", err);
        return false;
    }
    /* Only the per-row upsert is prepared, and written so that any plan of
     * it (a generic one, made while the tables were empty) looks rows up
     * by unique index. The once-per-batch statements go unnamed, planned
     * for their actual arrays: a cached generic plan of the mark, chosen
     * on small tables, turned into scans that stalled a writer for
     * seconds once the tables grew. */
    PGresult *r = PQprepare(s->conn, "upsert", UPSERT_SQL, NPARAMS, NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        log_error("storage", "prepare: %s", PQresultErrorMessage(r));
    PQclear(r);
    if (!ok) {
        PQfinish(s->conn);
        s->conn = NULL;
    }
    return ok;
}

/* SQLSTATE classes that mean "try again", not "this row is bad". */
static bool transient_error(const PGresult *res, PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return true;
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (st == NULL)
        return true;
    return strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 || strncmp(st, "53", 2) == 0 ||
           strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
}

typedef enum { ROW_OK, ROW_BAD, ROW_RETRY } row_status_t;

/* The statement for one record and its parameters: the upsert, or for a
 * replay the lookup of its stored classification. Free with
 * row_params_free(). */
typedef struct row_params {
    const char *stmt;             /* SQL text, or NULL for the prepared upsert */
    int n;
    issue_row_t row;
    const char *v[NPARAMS];
} row_params_t;

static void row_params_build(row_params_t *rp, const record_t *r)
{
    memset(rp, 0, sizeof(*rp));
    if (r->replay) {
        rp->stmt = REPLAY_SQL;
        rp->n = 2;
        snprintf(rp->row.id, sizeof(rp->row.id), "%lld", (long long)r->event.issue_id);
        rp->v[0] = rp->row.id;
        rp->v[1] = r->event.updated_at;
        return;
    }
    rp->stmt = NULL;   /* the prepared upsert */
    rp->n = NPARAMS;
    issue_row_build(&rp->row, &r->event, &r->cls, r->rkm->payload, r->rkm->len, r->user_id);
    memcpy(rp->v, rp->row.v, sizeof(rp->row.v));
    rp->v[ISSUE_ROW_NPARAMS] = r->sync_id[0] ? r->sync_id : NULL;
}

static void row_params_free(row_params_t *rp)
{
    issue_row_free(&rp->row);
}

/* A replay's lookup: publish from the stored classification if its event
 * never went out, else nothing to do. */
static void replay_result(record_t *r, PGresult *res)
{
    r->publish = false;
    r->result = RESULT_SKIPPED;
    if (PQntuples(res) != 1)
        return;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    char err[200];
    if (j != NULL && cls_from_json(j, &r->cls, err, sizeof(err)) == 0) {
        cls_copy_text(r->cls.model_version, sizeof(r->cls.model_version), PQgetvalue(res, 0, 1));
        cls_copy_text(r->cls.provider, sizeof(r->cls.provider), PQgetvalue(res, 0, 2));
        r->cls.cost_usd = 0;   /* spent by the first pass, not by this one */
        r->publish = true;
        r->result = RESULT_OK;
    } else {
        log_warn("storage", "partition %d offset %lld: stored classification unreadable (%s); not republished",
                 r->partition, (long long)r->offset, j ? err : "not JSON");
    }
    json_decref(j);
}

/* Reads one upsert's (or replay lookup's) result into the record. */
static row_status_t row_result(storage_state_t *s, record_t *r, PGresult *res, char *err, size_t errlen)
{
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        if (r->replay) {
            replay_result(r, res);
            return ROW_OK;
        }
        bool stored = atoi(PQgetvalue(res, 0, 0)) > 0;
        bool classified = atoi(PQgetvalue(res, 0, 1)) > 0;
        bool unpublished = atoi(PQgetvalue(res, 0, 2)) > 0;
        r->publish = (stored && classified) || unpublished;
        r->result = r->publish ? RESULT_OK : RESULT_SKIPPED;
        return ROW_OK;
    }
    const char *m = PQresultErrorMessage(res);
    snprintf(err, errlen, "database: %.*s", (int)strcspn(m, "\n"), m);
    return transient_error(res, s->conn) ? ROW_RETRY : ROW_BAD;
}

/* The applied_offsets parameters for the batch's non-replayed records:
 * group, topic, partitions[], offsets[]. Returns how many records. */
static int applied_params(storage_state_t *s, record_t **recs, int n, strbuf_t *parts, strbuf_t *offs,
                          const char *v[4])
{
    int count = 0;
    sb_puts(parts, "{");
    sb_puts(offs, "{");
    for (int i = 0; i < n; i++) {
        if (recs[i]->replay)
            continue;
        sb_printf(parts, "%s%d", count ? "," : "", recs[i]->partition);
        sb_printf(offs, "%s%lld", count ? "," : "", (long long)recs[i]->offset);
        count++;
    }
    sb_puts(parts, "}");
    sb_puts(offs, "}");
    v[0] = s->p->cfg->group_id;
    v[1] = s->p->cfg->topic_raw;
    v[2] = parts->data;
    v[3] = offs->data;
    return count;
}

typedef struct sync_count {
    const char *id;
    int n;
} sync_count_t;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const sync_count_t *)a)->id, ((const sync_count_t *)b)->id);
}

/* Calls fn(sync_id, stored, classified) once per sync among the records
 * (replays excluded: they were counted when first stored), in sync id
 * order, so two transactions updating the same syncs' rows never wait on
 * each other in a cycle. Records that reach storage were classified, so
 * both counts are the same here; the database's refusals count as synced
 * only. Returns how many calls, -1 when one failed. */
static int for_each_sync(record_t **recs, int n, bool refused, bool (*fn)(void *, const char *, int, int),
                         void *ctx)
{
    sync_count_t counts[n > 0 ? n : 1];
    int k = 0;
    for (int i = 0; i < n; i++) {
        const char *id = recs[i]->sync_id;
        if (recs[i]->replay || id[0] == '\0')
            continue;
        int j = 0;
        while (j < k && strcmp(counts[j].id, id) != 0)
            j++;
        if (j == k)
            counts[k++] = (sync_count_t){id, 0};
        counts[j].n++;
    }
    qsort(counts, (size_t)k, sizeof(counts[0]), by_id);
    for (int j = 0; j < k; j++)
        if (!fn(ctx, counts[j].id, counts[j].n, refused ? 0 : counts[j].n))
            return -1;
    return k;
}

static void sync_params(char synced[16], char classified[16], int n_synced, int n_classified)
{
    snprintf(synced, 16, "%d", n_synced);
    snprintf(classified, 16, "%d", n_classified);
}

static bool send_sync_progress(void *conn, const char *sync_id, int n_synced, int n_classified)
{
    char a[16], b[16];
    sync_params(a, b, n_synced, n_classified);
    const char *v[3] = {sync_id, a, b};
    return PQsendQueryParams(conn, SYNC_PROGRESS_SQL, 3, NULL, v, NULL, NULL, 0) == 1;
}

static bool exec_sync_progress(void *conn, const char *sync_id, int n_synced, int n_classified)
{
    char a[16], b[16];
    sync_params(a, b, n_synced, n_classified);
    const char *v[3] = {sync_id, a, b};
    PGresult *res = PQexecParams(conn, SYNC_PROGRESS_SQL, 3, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        log_warn("storage", "sync %s progress: %s", sync_id, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* The text[] of the records' sync ids; false when none has one. */
static bool sync_ids(record_t **recs, int n, strbuf_t *out)
{
    int count = 0;
    sb_puts(out, "{");
    for (int i = 0; i < n; i++)
        if (!recs[i]->replay && recs[i]->sync_id[0])
            sb_printf(out, "%s\"%s\"", count++ ? "," : "", recs[i]->sync_id);
    sb_puts(out, "}");
    return count > 0;
}

/* Queues the record's statement on a connection in pipeline mode. */
static bool send_row(PGconn *c, const record_t *r)
{
    row_params_t rp;
    row_params_build(&rp, r);
    bool ok = rp.stmt ? PQsendQueryParams(c, rp.stmt, rp.n, NULL, rp.v, NULL, NULL, 0) == 1
                      : PQsendQueryPrepared(c, "upsert", rp.n, rp.v, NULL, NULL, 0) == 1;
    row_params_free(&rp);
    return ok;
}

static PGresult *exec_row(PGconn *c, const record_t *r)
{
    row_params_t rp;
    row_params_build(&rp, r);
    PGresult *res = rp.stmt ? PQexecParams(c, rp.stmt, rp.n, NULL, rp.v, NULL, NULL, 0)
                            : PQexecPrepared(c, "upsert", rp.n, rp.v, NULL, NULL, 0);
    row_params_free(&rp);
    return res;
}

/* One record in its own transaction, with its applied offset. */
static row_status_t write_row(storage_state_t *s, record_t *r, char *err, size_t errlen)
{
    if (r->replay) {
        PGresult *res = exec_row(s->conn, r);
        row_status_t st = row_result(s, r, res, err, errlen);
        PQclear(res);
        return st;
    }
    if (!pg_command(s->conn, "BEGIN")) {
        snprintf(err, errlen, "database: %s", PQerrorMessage(s->conn));
        return ROW_RETRY;
    }
    strbuf_t ids;
    sb_init(&ids);
    if (sync_ids(&r, 1, &ids)) {
        const char *lv[1] = {ids.data};
        PQclear(PQexecParams(s->conn, SYNCS_LOCK_SHARED_SQL, 1, NULL, lv, NULL, NULL, 0));
    }
    sb_free(&ids);
    PGresult *res = exec_row(s->conn, r);
    row_status_t st = row_result(s, r, res, err, errlen);
    PQclear(res);
    if (st == ROW_OK) {
        strbuf_t parts, offs;
        sb_init(&parts);
        sb_init(&offs);
        const char *v[4];
        applied_params(s, &r, 1, &parts, &offs, v);
        res = PQexecParams(s->conn, APPLIED_SQL, 4, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            st = row_result(s, r, res, err, errlen) == ROW_BAD ? ROW_BAD : ROW_RETRY;
        PQclear(res);
        sb_free(&parts);
        sb_free(&offs);
    }
    if (st == ROW_OK && for_each_sync(&r, 1, false, exec_sync_progress, s->conn) < 0)
        st = ROW_RETRY;
    if (st == ROW_OK && !pg_command(s->conn, "COMMIT")) {
        snprintf(err, errlen, "database: %s", PQerrorMessage(s->conn));
        st = ROW_RETRY;
    }
    if (st != ROW_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
    return st;
}

static void forward(storage_state_t *s, record_t *r)
{
    r->hdr.type = MSG_PUBLISH;
    rt_send_force(s->p->publisher, r);
}

/* One transaction for the whole batch, sent in libpq pipeline mode: every
 * statement goes out before the first result is read, so a batch costs one
 * round trip, not one per row. Returns ROW_OK, ROW_RETRY (connection
 * trouble: keep the batch), or ROW_BAD (some row is bad: isolate). */
static row_status_t write_batch(storage_state_t *s)
{
    PGconn *c = s->conn;
    if (PQenterPipelineMode(c) != 1)
        return ROW_RETRY;
    bool sent = PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1;
    strbuf_t ids;
    sb_init(&ids);
    bool locks = sync_ids(s->batch, s->nbatch, &ids);
    const char *lv[1] = {ids.data};
    if (locks)
        sent = sent && PQsendQueryParams(c, SYNCS_LOCK_SHARED_SQL, 1, NULL, lv, NULL, NULL, 0) == 1;
    sb_free(&ids);
    for (int i = 0; i < s->nbatch && sent; i++)
        sent = send_row(c, s->batch[i]);
    strbuf_t parts, offs;
    sb_init(&parts);
    sb_init(&offs);
    const char *av[4];
    int napplied = applied_params(s, s->batch, s->nbatch, &parts, &offs, av);
    if (napplied > 0)
        sent = sent && PQsendQueryParams(c, APPLIED_SQL, 4, NULL, av, NULL, NULL, 0) == 1;
    sb_free(&parts);
    sb_free(&offs);
    int nsyncs = sent ? for_each_sync(s->batch, s->nbatch, false, send_sync_progress, c) : 0;
    sent = sent && nsyncs >= 0;
    sent = sent && PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) == 1;
    sent = sent && PQpipelineSync(c) == 1;

    /* Results: BEGIN, the sync locks, one per row, the applied offsets,
     * the sync counts, COMMIT, then the sync point. After an error the rest come back PGRES_PIPELINE_ABORTED
     * and the server rolls the transaction back at the sync. */
    row_status_t st = sent ? ROW_OK : ROW_RETRY;
    char err[512];
    int expect = s->nbatch + 2 + locks + (napplied > 0) + (nsyncs > 0 ? nsyncs : 0);
    for (int i = 0; i < expect && sent; i++) {
        PGresult *res = PQgetResult(c);
        if (res == NULL) {
            st = ROW_RETRY;
            break;
        }
        ExecStatusType rs = PQresultStatus(res);
        int row = i - 1 - locks;   /* BEGIN and the sync locks come first */
        if (row >= 0 && row < s->nbatch && rs == PGRES_TUPLES_OK) {
            row_result(s, s->batch[row], res, err, sizeof(err));
        } else if (rs == PGRES_FATAL_ERROR) {
            if (st == ROW_OK)
                st = transient_error(res, c) ? ROW_RETRY : ROW_BAD;
        } else if (rs == PGRES_PIPELINE_ABORTED) {
            if (st == ROW_OK)
                st = ROW_RETRY;
        }
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
    if (st != ROW_OK) {
        /* A failed statement leaves the explicit transaction aborted past
         * the sync point; end it, or every later statement fails with
         * "current transaction is aborted" instead of its own error. */
        PQclear(PQexec(c, "ROLLBACK"));
    }
    return st;
}

/* Row by row, each its own transaction: bad rows go to the DLQ with the
 * database's error, the rest commit. Returns false on connection trouble,
 * keeping the unwritten rest of the batch. */
static bool write_isolated(storage_state_t *s)
{
    char err[512];
    int kept = 0;
    for (int i = 0; i < s->nbatch; i++) {
        record_t *r = s->batch[i];
        row_status_t st = write_row(s, r, err, sizeof(err));
        if (st == ROW_OK) {
            forward(s, r);
        } else if (st == ROW_BAD) {
            log_warn("storage", "partition %d offset %lld to DLQ: %s", r->partition, (long long)r->offset, err);
            metric_add(&g_metrics.db_dead_lettered, 1);
            /* Still an event of its sync that is done with. */
            for_each_sync(&r, 1, true, exec_sync_progress, s->conn);
            pipeline_dead_letter(s->p, r, ERROR_PERMANENT, err);
        } else {
            s->batch[kept++] = r;
        }
    }
    s->nbatch = kept;
    return kept == 0;
}

static void schedule_retry(storage_state_t *s, rt_actor_t *self)
{
    s->retries++;
    if (s->retry_timer == 0)
        s->retry_timer = rt_timer_start(self, backoff_delay_ms(&BACKOFF_STORAGE, s->retries, NULL), 0,
                                        &s->retry_timer);
}

/* Notes acknowledged events as published, in one statement; false on
 * database trouble (the marks are kept and retried). */
void mark_published_add(strbuf_t *ids, strbuf_t *vers, int64_t issue_id, const char *updated_at)
{
    bool first = ids->len == 0;
    if (first) {
        sb_puts(ids, "{");
        sb_puts(vers, "{");
    }
    sb_printf(ids, "%s%lld", first ? "" : ",", (long long)issue_id);
    sb_printf(vers, "%s%s%s%s", first ? "" : ",", updated_at ? "\"" : "", updated_at ? updated_at : "NULL",
              updated_at ? "\"" : "");
}

static bool write_marks(storage_state_t *s)
{
    strbuf_t ids, vers;
    sb_init(&ids);
    sb_init(&vers);
    for (int i = 0; i < s->nmarks; i++)
        mark_published_add(&ids, &vers, s->marks[i]->event.issue_id, s->marks[i]->event.updated_at);
    sb_puts(&ids, "}");
    sb_puts(&vers, "}");
    const char *v[2] = {ids.data, vers.data};
    PGresult *res = PQexecParams(s->conn, MARK_PUBLISHED_SQL, 2, NULL, v, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        log_warn("storage", "noting %d events as published deferred: %s", s->nmarks, PQresultErrorMessage(res));
    PQclear(res);
    sb_free(&ids);
    sb_free(&vers);
    return ok;
}

/* Applied offsets below what Kafka has committed are not needed: at most
 * once a second, one statement per partition that moved. */
static void prune(storage_state_t *s)
{
    if (!s->prune_pending || rt_now_ms() - s->pruned_ms < PRUNE_EVERY_MS)
        return;
    for (int32_t part = 0; part < PIPELINE_MAX_PARTITIONS; part++) {
        if (s->prune_below[part] <= 0)
            continue;
        char ps[16], below[24];
        snprintf(ps, sizeof(ps), "%d", part);
        snprintf(below, sizeof(below), "%lld", (long long)s->prune_below[part]);
        const char *v[4] = {s->p->cfg->group_id, s->p->cfg->topic_raw, ps, below};
        PGresult *res = PQexecParams(s->conn, PRUNE_SQL, 4, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            log_warn("storage", "pruning applied offsets: %s", PQresultErrorMessage(res));
            PQclear(res);
            return;   /* kept; tried again later */
        }
        PQclear(res);
        s->prune_below[part] = 0;
    }
    s->prune_pending = false;
    s->pruned_ms = rt_now_ms();
}

static void flush(storage_state_t *s, rt_actor_t *self)
{
    if ((s->nbatch == 0 && s->nmarks == 0 && !s->prune_pending) || s->retry_timer != 0)
        return;
    if (!connected(s)) {
        schedule_retry(s, self);
        return;
    }
    if (s->nbatch > 0) {
        uint64_t t0 = now_us();
        row_status_t st = write_batch(s);
        if (st == ROW_BAD) {
            if (!write_isolated(s)) {
                schedule_retry(s, self);
                return;
            }
        } else if (st == ROW_RETRY) {
            log_warn("storage", "batch of %d deferred: %s", s->nbatch, PQerrorMessage(s->conn));
            schedule_retry(s, self);
            return;
        } else {
            /* Between the database commit and everything after it
             * (enriched event, Kafka commit): where a crash tests
             * exactly-once. */
            fault_db_committed();
            histogram_observe_us(&g_metrics.db_write, now_us() - t0);
            histogram_observe_count(&g_metrics.db_batch_rows, (uint64_t)s->nbatch);
            metric_add(&g_metrics.db_batches, 1);
            int replays = 0;
            for (int i = 0; i < s->nbatch; i++)
                replays += s->batch[i]->replay;
            metric_add(&g_metrics.db_rows, (uint64_t)(s->nbatch - replays));
            for (int i = 0; i < s->nbatch; i++)
                forward(s, s->batch[i]);
            s->nbatch = 0;
        }
    }
    if (s->nmarks > 0) {
        if (!write_marks(s)) {
            schedule_retry(s, self);
            return;
        }
        for (int i = 0; i < s->nmarks; i++)
            record_done(s->marks[i]);
        s->nmarks = 0;
    }
    prune(s);
    s->retries = 0;
}

static void append(record_t ***arr, int *n, int *cap, record_t *r)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *arr = realloc(*arr, (size_t)*cap * sizeof(**arr));
        if (*arr == NULL)
            abort();
    }
    (*arr)[(*n)++] = r;
}

static void storage_handler(rt_actor_t *self, rt_msg_t *msg)
{
    storage_state_t *s = rt_actor_state(self);
    if (msg->type == RT_MSG_TIMER) {
        rt_timer_msg_t *t = (rt_timer_msg_t *)msg;
        if (t->arg == &s->retry_timer)
            s->retry_timer = 0;
        else if (t->timer_id == s->window_timer)
            s->window_timer = 0;
        rt_msg_free(msg);
        flush(s, self);
        return;
    }
    if (msg->type == MSG_STORE) {
        append(&s->batch, &s->nbatch, &s->cap, (record_t *)msg);
    } else if (msg->type == MSG_MARK_PUBLISHED) {
        append(&s->marks, &s->nmarks, &s->capmarks, (record_t *)msg);
    } else if (msg->type == MSG_PRUNE) {
        prune_msg_t *pm = (prune_msg_t *)msg;
        if (pm->partition >= 0 && pm->partition < PIPELINE_MAX_PARTITIONS && pm->below > s->prune_below[pm->partition]) {
            s->prune_below[pm->partition] = pm->below;
            s->prune_pending = true;
        }
        rt_msg_free(msg);
        if (s->nbatch == 0 && s->nmarks == 0)
            flush(s, self);
        return;
    } else {
        rt_msg_free(msg);
        return;
    }
    const config_t *cfg = s->p->cfg;
    if (s->nbatch >= cfg->storage_batch_size || s->nmarks >= cfg->storage_batch_size) {
        flush(s, self);
    } else if (s->window_timer == 0 && s->retry_timer == 0) {
        if (cfg->storage_batch_window_ms == 0)
            flush(s, self);
        else
            s->window_timer = rt_timer_start(self, (uint64_t)cfg->storage_batch_window_ms, 0, NULL);
    }
}

static void storage_finalize(rt_actor_t *self)
{
    storage_state_t *s = rt_actor_state(self);
    for (int i = 0; i < s->nbatch; i++)
        record_free(s->batch[i]);
    free(s->batch);
    for (int i = 0; i < s->nmarks; i++)
        record_free(s->marks[i]);
    free(s->marks);
    if (s->conn)
        PQfinish(s->conn);
    free(s);
}

rt_actor_t *storage_spawn(pipeline_t *p, int index, char *err, size_t errlen)
{
    storage_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->p = p;
    s->index = index;
    /* Connect and check the schema up front so `run` fails fast. */
    s->conn = pg_connect(p->cfg->database_url, err, errlen);
    if (s->conn == NULL) {
        free(s);
        return NULL;
    }
    int v = schema_current_version(s->conn, err, errlen);
    if (v < schema_latest_version()) {
        if (v >= 0)
            snprintf(err, errlen, "database schema is at version %d, this dispatchd needs %d: run `dispatchd migrate`",
                     v, schema_latest_version());
        PQfinish(s->conn);
        free(s);
        return NULL;
    }
    PQfinish(s->conn);
    s->conn = NULL;
    if (!connected(s)) {
        snprintf(err, errlen, "database: cannot prepare statements");
        free(s);
        return NULL;
    }
    rt_actor_opts_t o = {.name = "storage", .dedicated = true, .capacity = 65536, .high_watermark = 8192,
                         .low_watermark = 2048, .batch = 256, .finalizer = storage_finalize};
    return rt_spawn(p->rt, storage_handler, s, &o);
}
