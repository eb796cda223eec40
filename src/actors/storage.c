/*
 * storage.c -- the storage actor: a dedicated thread that owns one libpq
 * connection (libpq blocks; scheduler threads never do).
 *
 * Records are batched by count (storage_batch_size) and time
 * (storage_batch_window_ms) and written in one transaction of the ledger
 * (src/db/ledger.c: what is stored, and how exactly-once is kept). Whether
 * a new version was stored decides whether the publisher emits an enriched
 * event, so a replay publishes nothing twice. A batch that fails on a row
 * is retried row by row, so only the bad row goes to the DLQ. When the
 * database is unreachable the batch is kept and retried with the storage
 * backoff policy; the mailbox fills, and the partitions pause.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "faults.h"
#include "log.h"
#include "storage.h"
#include "partition.h"
#include "publisher.h"
#include "ledger.h"
#include "storage_batch.h"
#include "schema.h"

#define PRUNE_EVERY_MS 1000

typedef struct storage_state {
    const actor_env_t *env;
    PGconn *conn;
    ledger_scope_t scope;
    record_t **batch;
    ledger_entry_t *entries;      /* one per batched record, while it is written */
    int entries_cap;
    int nbatch, cap;
    record_t **marks;             /* acknowledged events to mark as published */
    int nmarks, capmarks;
    uint64_t window_timer;        /* pending flush timer, 0 if none */
    uint64_t retry_timer;
    int retries;                  /* failed attempts in a row */
    backoff_policy_t retry;       /* BACKOFF_STORAGE with [database] retry_max_ms */
    int index;                    /* which of the pipeline's storage actors */
    int64_t prune_below[PIPELINE_MAX_PARTITIONS];   /* committed in Kafka; 0 = nothing to prune */
    bool prune_pending;
    uint64_t pruned_ms;
} storage_state_t;

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
    s->conn = pg_connect(s->env->cfg->database_url, err, sizeof(err));
    if (s->conn == NULL) {
        log_warn("storage", "%s", err);
        return false;
    }
    return true;
}

static void entry_of(ledger_entry_t *e, record_t *r)
{
    *e = (ledger_entry_t){
        .event = &r->event,
        .raw = r->rkm->payload,
        .raw_len = r->rkm->len,
        .user_id = r->user_id,
        .sync_id = r->sync_id,
        .partition = r->partition,
        .offset = r->offset,
        .retried = r->retried,
        .replay = r->replay,
        .cls = &r->cls,
        .cls_json = r->cls_json,
    };
}

/* What the ledger said about a stored record. */
static void stored(record_t *r, const ledger_entry_t *e)
{
    r->publish = e->publish;
    r->row_id = e->row_id;
    r->result = e->publish ? RESULT_OK : RESULT_SKIPPED;
}

static void forward(storage_state_t *s, record_t *r)
{
    r->hdr.type = MSG_PUBLISH;
    rt_send_force(s->env->to->publisher, r);
}

static ledger_status_t write_batch(storage_state_t *s, bool *by_copy)
{
    if (s->entries_cap < s->nbatch) {
        s->entries = realloc(s->entries, (size_t)s->nbatch * sizeof(*s->entries));
        if (s->entries == NULL)
            abort();
        s->entries_cap = s->nbatch;
    }
    for (int i = 0; i < s->nbatch; i++) {
        record_t *r = s->batch[i];
        if (r->cls_json == NULL && !r->replay)   /* made once: the publisher sends the same text */
            r->cls_json = cls_json_text(&r->cls);
        entry_of(&s->entries[i], r);
    }
    ledger_status_t st = ledger_store_batch(&s->scope, s->conn, s->entries, s->nbatch, by_copy);
    if (st == LEDGER_OK)
        for (int i = 0; i < s->nbatch; i++)
            stored(s->batch[i], &s->entries[i]);
    return st;
}

/* Row by row, each its own transaction: bad rows go to the DLQ with the
 * database's error, the rest commit. Returns false on connection trouble,
 * keeping the unwritten rest of the batch. */
static bool write_isolated(storage_state_t *s)
{
    int kept = 0;
    for (int i = 0; i < s->nbatch; i++) {
        record_t *r = s->batch[i];
        ledger_entry_t *e = &s->entries[0];
        entry_of(e, r);
        ledger_status_t st = ledger_store_one(&s->scope, s->conn, e);
        if (st == LEDGER_OK) {
            stored(r, e);
            forward(s, r);
        } else if (st == LEDGER_BAD) {
            log_warn("storage", "partition %d offset %lld to DLQ: %s", r->partition, (long long)r->offset,
                     e->error);
            metric_add(&g_metrics.db_dead_lettered, 1);
            ledger_count_refused(s->conn, e);   /* still an event of its sync that is done with */
            publisher_dead_letter(s->env, r, ERROR_PERMANENT, e->error);
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
        s->retry_timer = rt_timer_start(self, backoff_delay_ms(&s->retry, s->retries, NULL), 0,
                                        &s->retry_timer);
}

/* Marks acknowledged events as published, in one statement; false on
 * database trouble (the marks are kept and retried). */
static bool write_marks(storage_state_t *s)
{
    ledger_marks_t m;
    ledger_marks_init(&m);
    for (int i = 0; i < s->nmarks; i++)
        ledger_marks_add(&m, s->marks[i]->row_id, s->marks[i]->event.issue_id, s->marks[i]->event.updated_at);
    bool ok = ledger_marks_write(s->conn, &m) >= 0;
    ledger_marks_free(&m);
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
        if (!ledger_prune(&s->scope, s->conn, part, s->prune_below[part]))
            return;   /* kept; tried again later */
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
        bool by_copy = false;
        ledger_status_t st = write_batch(s, &by_copy);
        if (st == LEDGER_BAD) {
            if (!write_isolated(s)) {
                schedule_retry(s, self);
                return;
            }
        } else if (st == LEDGER_RETRY) {
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
            if (by_copy)
                metric_add(&g_metrics.db_copy_batches, 1);
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
        record_t *r = (record_t *)msg;
        free(r->cls_json);   /* classified again since an earlier pass, if any */
        r->cls_json = NULL;
        append(&s->batch, &s->nbatch, &s->cap, r);
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
    const config_t *cfg = s->env->cfg;
    batch_policy_t policy = {.size = cfg->storage_batch_size, .window_ms = cfg->storage_batch_window_ms};
    switch (batch_on_arrival(&policy, s->nbatch, s->nmarks, s->window_timer != 0, s->retry_timer != 0)) {
    case BATCH_WRITE:
        flush(s, self);
        break;
    case BATCH_OPEN_WINDOW:
        s->window_timer = rt_timer_start(self, (uint64_t)policy.window_ms, 0, NULL);
        break;
    case BATCH_WAIT:
        break;
    }
}

static void storage_finalize(rt_actor_t *self)
{
    storage_state_t *s = rt_actor_state(self);
    for (int i = 0; i < s->nbatch; i++)
        record_free(s->batch[i]);
    free(s->batch);
    free(s->entries);
    for (int i = 0; i < s->nmarks; i++)
        record_free(s->marks[i]);
    free(s->marks);
    if (s->conn)
        PQfinish(s->conn);
    free(s);
}

rt_actor_t *storage_spawn(const actor_env_t *env, int index, char *err, size_t errlen)
{
    storage_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    s->index = index;
    s->scope = (ledger_scope_t){.group = env->cfg->group_id, .topic = env->cfg->topic_raw};
    s->retry = backoff_configured(&BACKOFF_STORAGE, 0, env->cfg->db_retry_max_ms);
    /* Connect and check the schema up front so `run` fails fast. */
    s->conn = pg_connect(env->cfg->database_url, err, errlen);
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
    rt_actor_opts_t o = {.name = "storage", .dedicated = true, .capacity = 65536, .high_watermark = 8192,
                         .low_watermark = 2048, .batch = 256, .finalizer = storage_finalize};
    return rt_spawn(env->rt, storage_handler, s, &o);
}

void storage_send(const actor_env_t *env, record_t *r)
{
    if (env->classify_only) {
        r->result = RESULT_OK;
        record_done(r);
        return;
    }
    r->hdr.type = MSG_STORE;
    rt_send_force(storage_for(env, r->event.issue_id), r);
}
