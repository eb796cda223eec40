/*
 * bench_storage -- dispatchd's storage path against PostgreSQL's COPY and
 * against the original service's way (a connection per message, a row per
 * transaction), writing the same issue and enriched rows (issue_row.h).
 *
 *   bench_storage DATABASE_URL ISSUES.jsonl NAIVE_COUNT
 *
 * The dispatchd side is the real storage actors (storage_connections of
 * them, default 2) on the real runtime, fed the records a partition would
 * hand them, including the published_at marks that follow each
 * acknowledged event; a row counts when its record is done. The COPY side
 * is one connection, one transaction, both tables. The naive side connects
 * for each message and commits each row on its own. BENCH_TRACE=1 prints
 * the dispatchd side's progress every 250 ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "issue_row.h"
#include "log.h"
#include "partition.h"
#include "publisher.h"
#include "storage.h"
#include "schema.h"
#include "strbuf.h"

static uint64_t g_done;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Stands in for the publisher (acknowledges at once) and for the
 * partition-consumer (counts records done). */
static void sink_handler(rt_actor_t *self, rt_msg_t *msg)
{
    const actor_env_t *env = rt_actor_state(self);
    record_t *r = (record_t *)msg;
    if (msg->type == MSG_PUBLISH && r->publish) {
        r->hdr.type = MSG_MARK_PUBLISHED;
        rt_send_force(storage_for(env, r->event.issue_id), r);
        return;
    }
    if (msg->type == MSG_PUBLISH || msg->type == MSG_DONE) {
        if (r->result == RESULT_DLQ)
            fprintf(stderr, "bench_storage: row refused: %s\n", r->error);
        free(r->rkm);
        r->rkm = NULL;
        record_free(r);
        __atomic_add_fetch(&g_done, 1, __ATOMIC_RELEASE);
        return;
    }
    rt_msg_free(msg);
}

typedef struct input {
    char **payloads;
    size_t n;
} input_t;

static void load(input_t *in, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *issue = json_loads(line, 0, NULL);
        char err[128];
        json_t *ev = issue ? issue_event_wrap(issue, "bench", "storage", "bench-user", err, sizeof(err)) : NULL;
        json_decref(issue);
        if (ev == NULL)
            continue;
        if (in->n == alloc) {
            alloc = alloc ? alloc * 2 : 1024;
            in->payloads = realloc(in->payloads, alloc * sizeof(char *));
        }
        in->payloads[in->n++] = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
    }
    free(line);
    fclose(f);
}

/* What a partition-consumer would hand storage for payload i. */
static record_t *make_record(const input_t *in, size_t i, rt_actor_t *owner)
{
    record_t *r = rt_msg_new(sizeof(*r), MSG_STORE);
    memset((char *)r + sizeof(rt_msg_t), 0, sizeof(*r) - sizeof(rt_msg_t));
    rd_kafka_message_t *m = calloc(1, sizeof(*m));
    m->payload = in->payloads[i];
    m->len = strlen(in->payloads[i]);
    r->rkm = m;
    r->owner = owner;
    r->partition = (int32_t)(i % 3);
    r->offset = (int64_t)(i / 3);
    strcpy(r->user_id, "bench-user");
    char err[256];
    if (issue_event_parse(&r->event, m->payload, m->len, 1 << 20, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_storage: %s\n", err);
        exit(1);
    }
    issue_event_key(&r->event, r->key, sizeof(r->key));
    cls_input_t ci = {r->event.title, r->event.body, r->event.labels};
    classify_rules(&ci, &r->cls);
    return r;
}

static double run_dispatchd(const input_t *in, const config_t *cfg)
{
    /* The storage actors wired to a stand-in publisher through their
     * address book. */
    actor_addresses_t *to = calloc(1, sizeof(*to));
    pipeline_status_t *status = calloc(1, sizeof(*status));
    actor_env_t env = {.cfg = cfg, .rt = rt_create(cfg->threads), .to = to, .status = status};
    rt_actor_opts_t o = {.name = "bench-sink", .capacity = 1 << 22};
    to->publisher = rt_spawn(env.rt, sink_handler, &env, &o);
    char err[256];
    for (int i = 0; i < cfg->storage_connections; i++) {
        if ((to->storage[i] = storage_spawn(&env, i, err, sizeof(err))) == NULL) {
            fprintf(stderr, "bench_storage: %s\n", err);
            exit(1);
        }
        to->nstorage++;
    }
    record_t **recs = malloc(in->n * sizeof(*recs));
    for (size_t i = 0; i < in->n; i++)
        recs[i] = make_record(in, i, to->publisher);
    double t0 = now_s();
    for (size_t i = 0; i < in->n; i++)
        rt_send_force(storage_for(&env, recs[i]->event.issue_id), recs[i]);
    double last = t0;
    while (__atomic_load_n(&g_done, __ATOMIC_ACQUIRE) < in->n) {
        usleep(500);
        if (getenv("BENCH_TRACE") && now_s() - last > 0.25) {
            last = now_s();
            fprintf(stderr, "%.2f s: %lu done\n", last - t0, (unsigned long)__atomic_load_n(&g_done, __ATOMIC_ACQUIRE));
        }
    }
    double t = now_s() - t0;
    free(recs);
    rt_shutdown(env.rt);
    rt_destroy(env.rt);
    free(to);
    free(status);
    return (double)in->n / t;
}

static void exec_or_die(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COPY_IN) {
        fprintf(stderr, "bench_storage: %s: %s", sql, PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

static void copy_field(strbuf_t *b, const char *v, bool last)
{
    if (v == NULL) {
        sb_puts(b, "\\N");
    } else {
        for (const char *c = v; *c; c++) {
            switch (*c) {
            case '\\': sb_puts(b, "\\\\"); break;
            case '\t': sb_puts(b, "\\t"); break;
            case '\n': sb_puts(b, "\\n"); break;
            case '\r': sb_puts(b, "\\r"); break;
            default: sb_printf(b, "%c", *c);
            }
        }
    }
    sb_puts(b, last ? "\n" : "\t");
}

static void put_copy(PGconn *c, strbuf_t *b)
{
    if (PQputCopyData(c, b->data, (int)b->len) != 1) {
        fprintf(stderr, "bench_storage: COPY: %s", PQerrorMessage(c));
        exit(1);
    }
    sb_free(b);
    sb_init(b);
}

static void end_copy(PGconn *c)
{
    PQputCopyEnd(c, NULL);
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench_storage: COPY: %s", PQresultErrorMessage(r));
            exit(1);
        }
        PQclear(r);
    }
}

/* Both tables in one transaction: issues with explicit ids, then their
 * classifications. Rows are built inside the timing, as storage builds its
 * parameters inside its own. */
static double run_copy(const input_t *in, PGconn *c)
{
    record_t **recs = malloc(in->n * sizeof(*recs));
    for (size_t i = 0; i < in->n; i++)
        recs[i] = make_record(in, i, NULL);
    strbuf_t sql, b;
    sb_init(&sql);
    sb_init(&b);
    double t0 = now_s();
    exec_or_die(c, "BEGIN");
    sb_printf(&sql, "COPY bench_copy_issues (id, %s) FROM STDIN", ISSUE_ROW_ISSUE_COLS);
    exec_or_die(c, sql.data);
    for (size_t i = 0; i < in->n; i++) {
        issue_row_t row;
        issue_row_build(&row, &recs[i]->event, &recs[i]->cls, recs[i]->rkm->payload, recs[i]->rkm->len,
                        recs[i]->user_id);
        sb_printf(&b, "%zu\t", i + 1);
        for (int k = 0; k < ISSUE_ROW_ISSUE_COLUMNS; k++)
            copy_field(&b, row.v[k], k == ISSUE_ROW_ISSUE_COLUMNS - 1);
        issue_row_free(&row);
        if (b.len > (1 << 20))
            put_copy(c, &b);
    }
    put_copy(c, &b);
    end_copy(c);
    sb_free(&sql);
    sb_init(&sql);
    sb_printf(&sql, "COPY bench_copy_enriched (issue_id, %s, source_updated_at) FROM STDIN", ISSUE_ROW_ENRICHED_COLS);
    exec_or_die(c, sql.data);
    for (size_t i = 0; i < in->n; i++) {
        issue_row_t row;
        issue_row_build(&row, &recs[i]->event, &recs[i]->cls, recs[i]->rkm->payload, recs[i]->rkm->len,
                        recs[i]->user_id);
        sb_printf(&b, "%zu\t", i + 1);
        for (int k = ISSUE_ROW_ISSUE_COLUMNS; k < ISSUE_ROW_NPARAMS; k++)
            copy_field(&b, row.v[k], false);
        copy_field(&b, recs[i]->event.updated_at, true);
        issue_row_free(&row);
        if (b.len > (1 << 20))
            put_copy(c, &b);
    }
    put_copy(c, &b);
    end_copy(c);
    exec_or_die(c, "COMMIT");
    double t = now_s() - t0;
    for (size_t i = 0; i < in->n; i++) {
        free(recs[i]->rkm);
        recs[i]->rkm = NULL;
        record_free(recs[i]);
    }
    free(recs);
    sb_free(&sql);
    sb_free(&b);
    return (double)in->n / t;
}

/* The original service: per message a new connection, the issue row in
 * its own transaction, then its classification in another. */
static double run_naive(const input_t *in, const char *url, size_t count)
{
    strbuf_t ins_issue, ins_enriched;
    sb_init(&ins_issue);
    sb_init(&ins_enriched);
    sb_printf(&ins_issue, "INSERT INTO bench_naive_issues (%s) VALUES (", ISSUE_ROW_ISSUE_COLS);
    for (int k = 1; k <= ISSUE_ROW_ISSUE_COLUMNS; k++)
        sb_printf(&ins_issue, "$%d%s", k, k < ISSUE_ROW_ISSUE_COLUMNS ? "," : ")");
    sb_puts(&ins_issue, " ON CONFLICT (github_issue_id) DO UPDATE SET title = EXCLUDED.title RETURNING id");
    sb_printf(&ins_enriched, "INSERT INTO bench_naive_enriched (issue_id, %s, source_updated_at) VALUES (",
              ISSUE_ROW_ENRICHED_COLS);
    int ne = ISSUE_ROW_NPARAMS - ISSUE_ROW_ISSUE_COLUMNS + 2;
    for (int k = 1; k <= ne; k++)
        sb_printf(&ins_enriched, "$%d%s", k, k < ne ? "," : ")");
    record_t **recs = malloc(count * sizeof(*recs));
    for (size_t i = 0; i < count; i++)
        recs[i] = make_record(in, i, NULL);
    double t0 = now_s();
    for (size_t i = 0; i < count; i++) {
        char err[256];
        PGconn *c = pg_connect(url, err, sizeof(err));
        if (c == NULL) {
            fprintf(stderr, "bench_storage: %s\n", err);
            exit(1);
        }
        issue_row_t row;
        issue_row_build(&row, &recs[i]->event, &recs[i]->cls, recs[i]->rkm->payload, recs[i]->rkm->len,
                        recs[i]->user_id);
        PGresult *r = PQexecParams(c, ins_issue.data, ISSUE_ROW_ISSUE_COLUMNS, NULL, row.v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "bench_storage: naive issue: %s", PQresultErrorMessage(r));
            exit(1);
        }
        const char *v[ISSUE_ROW_NPARAMS];
        v[0] = PQgetvalue(r, 0, 0);
        memcpy(&v[1], &row.v[ISSUE_ROW_ISSUE_COLUMNS], (size_t)(ne - 2) * sizeof(v[0]));
        v[ne - 1] = recs[i]->event.updated_at;
        PGresult *r2 = PQexecParams(c, ins_enriched.data, ne, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r2) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench_storage: naive enriched: %s", PQresultErrorMessage(r2));
            exit(1);
        }
        PQclear(r2);
        PQclear(r);
        issue_row_free(&row);
        PQfinish(c);
    }
    double t = now_s() - t0;
    for (size_t i = 0; i < count; i++) {
        free(recs[i]->rkm);
        recs[i]->rkm = NULL;
        record_free(recs[i]);
    }
    free(recs);
    sb_free(&ins_issue);
    sb_free(&ins_enriched);
    return (double)count / t;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_storage DATABASE_URL ISSUES.jsonl NAIVE_COUNT\n");
        return 2;
    }
    setenv("DATABASE_URL", argv[1], 1);
    config_t cfg;
    char err[512];
    if (config_load(&cfg, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_storage: %s\n", err);
        return 2;
    }
    log_set_level(log_parse_level(cfg.log_level));
    input_t in = {0};
    load(&in, argv[2]);
    size_t naive_n = (size_t)atol(argv[3]);
    if (naive_n > in.n)
        naive_n = in.n;
    PGconn *c = pg_connect(argv[1], err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "bench_storage: %s\n", err);
        return 1;
    }
    exec_or_die(c, "CREATE TABLE bench_copy_issues (LIKE dispatchai.issues INCLUDING ALL);"
                   "CREATE TABLE bench_copy_enriched (LIKE dispatchai.enriched_issues INCLUDING ALL);"
                   "CREATE TABLE bench_naive_issues (LIKE dispatchai.issues INCLUDING ALL);"
                   "CREATE TABLE bench_naive_enriched (LIKE dispatchai.enriched_issues INCLUDING ALL)");

    double d = run_dispatchd(&in, &cfg);
    double cp = run_copy(&in, c);
    double nv = run_naive(&in, argv[1], naive_n);
    printf("BENCH storage-vs-copy copy_rows_per_s=%.0f dispatchd_rows_per_s=%.0f ratio=%.3f rows=%zu "
           "storage_connections=%d\n", cp, d, d / cp, in.n, cfg.storage_connections);
    printf("BENCH storage-vs-naive naive_rows_per_s=%.0f dispatchd_rows_per_s=%.0f ratio=%.1f naive_rows=%zu\n", nv,
           d, d / nv, naive_n);
    PQfinish(c);
    for (size_t i = 0; i < in.n; i++)
        free(in.payloads[i]);
    free(in.payloads);
    config_free(&cfg);
    return 0;
}
