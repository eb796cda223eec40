/*
 * bench_storage.c -- `dispatchd bench storage`: dispatchd's storage path
 * against PostgreSQL's COPY and against the original service's way (a
 * connection per message, a row per transaction), writing the same issue
 * and enriched rows (issue_row.h), in a scratch database (bench_env.h) on
 * the configured server.
 *
 * The dispatchd side is the real storage actors (storage_connections of
 * them, default 2) on the real runtime, fed the records a partition would
 * hand them, including the published_at marks that follow each
 * acknowledged event; a row counts when its record is done. The COPY side
 * is one connection, one transaction, both tables. The naive side connects
 * for each message and commits each row on its own. BENCH_TRACE=1 prints
 * the dispatchd side's progress every 250 ms.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_env.h"
#include "bench_suites.h"
#include "bench_util.h"
#include "cli.h"
#include "issue_gen.h"
#include "issue_row.h"
#include "log.h"
#include "partition.h"
#include "publisher.h"
#include "storage.h"
#include "schema.h"
#include "strbuf.h"

static uint64_t g_done;


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
            fprintf(stderr, "bench storage: row refused: %s\n", r->error);
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

static void add_issue(input_t *in, json_t *issue)
{
    char err[128];
    json_t *ev = issue ? issue_event_wrap(issue, "bench", "storage", "bench-user", err, sizeof(err)) : NULL;
    if (ev == NULL)
        return;
    if (in->n % 1024 == 0)
        in->payloads = realloc(in->payloads, (in->n + 1024) * sizeof(char *));
    in->payloads[in->n++] = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
}

static void input_free(input_t *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->payloads[i]);
    free(in->payloads);
    memset(in, 0, sizeof(*in));
}

/* N issues from the generator, ids in a range of their own. */
static void generate(input_t *in, size_t n)
{
    uint64_t rng = 0x5eed;
    for (size_t i = 0; i < n; i++) {
        json_t *issue = issue_gen(&rng, 900000000LL + (long long)i, (long)i + 1, 0);
        add_issue(in, issue);
        json_decref(issue);
    }
}

/* The first n GitHub issue objects of a JSONL file, cycled with fresh
 * numbers and ids if it has fewer. */
static int load(input_t *in, const char *path, size_t n)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        cli_error("bench storage: --from %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    json_t **issues = NULL;
    size_t have = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *issue = json_loads(line, 0, NULL);
        if (!json_is_object(issue)) {
            json_decref(issue);
            continue;
        }
        issues = realloc(issues, (have + 1) * sizeof(*issues));
        issues[have++] = issue;
    }
    free(line);
    fclose(f);
    if (have == 0) {
        cli_error("bench storage: --from %s: no GitHub issue objects (one JSON object a line)", path);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *issue = json_deep_copy(issues[i % have]);
        json_object_set_new(issue, "id", json_integer(900000000LL + (long long)i));
        json_object_set_new(issue, "number", json_integer((json_int_t)i + 1));
        add_issue(in, issue);
        json_decref(issue);
    }
    for (size_t i = 0; i < have; i++)
        json_decref(issues[i]);
    free(issues);
    return 0;
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
        fprintf(stderr, "bench storage: %s\n", err);
        exit(1);
    }
    issue_event_key(&r->event, r->key, sizeof(r->key));
    cls_input_t ci = cls_input_of(&r->event);
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
            fprintf(stderr, "bench storage: %s\n", err);
            exit(1);
        }
        to->nstorage++;
    }
    record_t **recs = malloc(in->n * sizeof(*recs));
    for (size_t i = 0; i < in->n; i++)
        recs[i] = make_record(in, i, to->publisher);
    double t0 = bench_now_s();
    for (size_t i = 0; i < in->n; i++)
        rt_send_force(storage_for(&env, recs[i]->event.issue_id), recs[i]);
    double last = t0;
    while (__atomic_load_n(&g_done, __ATOMIC_ACQUIRE) < in->n) {
        usleep(500);
        if (getenv("BENCH_TRACE") && bench_now_s() - last > 0.25) {
            last = bench_now_s();
            fprintf(stderr, "%.2f s: %lu done\n", last - t0, (unsigned long)__atomic_load_n(&g_done, __ATOMIC_ACQUIRE));
        }
    }
    double t = bench_now_s() - t0;
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
        fprintf(stderr, "bench storage: %s: %s", sql, PQresultErrorMessage(r));
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
        fprintf(stderr, "bench storage: COPY: %s", PQerrorMessage(c));
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
            fprintf(stderr, "bench storage: COPY: %s", PQresultErrorMessage(r));
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
    double t0 = bench_now_s();
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
    double t = bench_now_s() - t0;
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
    double t0 = bench_now_s();
    for (size_t i = 0; i < count; i++) {
        char err[256];
        PGconn *c = pg_connect(url, err, sizeof(err));
        if (c == NULL) {
            fprintf(stderr, "bench storage: %s\n", err);
            exit(1);
        }
        issue_row_t row;
        issue_row_build(&row, &recs[i]->event, &recs[i]->cls, recs[i]->rkm->payload, recs[i]->rkm->len,
                        recs[i]->user_id);
        PGresult *r = PQexecParams(c, ins_issue.data, ISSUE_ROW_ISSUE_COLUMNS, NULL, row.v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "bench storage: naive issue: %s", PQresultErrorMessage(r));
            exit(1);
        }
        const char *v[ISSUE_ROW_NPARAMS];
        v[0] = PQgetvalue(r, 0, 0);
        memcpy(&v[1], &row.v[ISSUE_ROW_ISSUE_COLUMNS], (size_t)(ne - 2) * sizeof(v[0]));
        v[ne - 1] = recs[i]->event.updated_at;
        PGresult *r2 = PQexecParams(c, ins_enriched.data, ne, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r2) != PGRES_COMMAND_OK) {
            fprintf(stderr, "bench storage: naive enriched: %s", PQresultErrorMessage(r2));
            exit(1);
        }
        PQclear(r2);
        PQclear(r);
        issue_row_free(&row);
        PQfinish(c);
    }
    double t = bench_now_s() - t0;
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

static const char *USAGE =
    "usage: dispatchd bench storage [--rows N] [--naive-rows M] [--from FILE.jsonl]\n"
    "Writes N issues (50,000; each an issue row and an enriched row) through dispatchd's storage\n"
    "actors, then the same rows by COPY, then M (2,000) the original service's way, in a scratch\n"
    "database on the configured server. The issues are generated, or GitHub issue objects from\n"
    "FILE (one a line, cycled).\n";

int bench_storage(int argc, char **argv, bench_ctx_t *ctx)
{
    if (bench_wants_help(argc, argv, USAGE))
        return 0;
    double rows = 50000, naive_rows = 2000;
    const char *from = NULL;
    for (int i = 1; i < argc; i += 2) {   /* every flag takes a value */
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "--rows") == 0) {
            if (bench_flag_number("bench storage", f, v, 1, 1e8, &rows))
                return EXIT_USAGE;
        } else if (strcmp(f, "--naive-rows") == 0) {
            if (bench_flag_number("bench storage", f, v, 1, 1e7, &naive_rows))
                return EXIT_USAGE;
        } else if (strcmp(f, "--from") == 0 && v != NULL) {
            from = v;
        } else {
            cli_error("bench storage: unknown or incomplete option '%s'\n%s", f, USAGE);
            return EXIT_USAGE;
        }
    }
    input_t in = {0};
    if (from != NULL ? load(&in, from, (size_t)rows) != 0 : (generate(&in, (size_t)rows), 0))
        return EXIT_USAGE;
    bench_env_t e;
    char err[512];
    bool usage;
    if (bench_env_open(&e, ctx->cfg_file, false, &usage, err, sizeof(err)) != 0) {
        cli_error("bench storage: %s", err);
        bench_env_close(&e);
        input_free(&in);
        return usage ? EXIT_USAGE : 1;
    }
    size_t naive_n = (size_t)naive_rows < in.n ? (size_t)naive_rows : in.n;
    PGconn *c = pg_connect(e.db_url, err, sizeof(err));
    if (c == NULL) {
        cli_error("bench storage: %s", err);
        bench_env_close(&e);
        input_free(&in);
        return 1;
    }
    bench_note(&ctx->rep, "%zu issues (issue row + enriched row each); naive peer: %zu", in.n, naive_n);
    exec_or_die(c, "CREATE TABLE bench_copy_issues (LIKE dispatchai.issues INCLUDING ALL);"
                   "CREATE TABLE bench_copy_enriched (LIKE dispatchai.enriched_issues INCLUDING ALL);"
                   "CREATE TABLE bench_naive_issues (LIKE dispatchai.issues INCLUDING ALL);"
                   "CREATE TABLE bench_naive_enriched (LIKE dispatchai.enriched_issues INCLUDING ALL)");
    double d = run_dispatchd(&in, &e.cfg);
    double cp = run_copy(&in, c);
    double nv = run_naive(&in, e.db_url, naive_n);
    bench_emit(&ctx->rep, "storage-vs-copy",
               "copy_rows_per_s=%.0f dispatchd_rows_per_s=%.0f ratio=%.3f rows=%zu storage_connections=%d", cp, d,
               d / cp, in.n, e.cfg.storage_connections);
    bench_emit(&ctx->rep, "storage-vs-naive", "naive_rows_per_s=%.0f dispatchd_rows_per_s=%.0f ratio=%.1f naive_rows=%zu",
               nv, d, d / nv, naive_n);
    PQfinish(c);
    input_free(&in);
    bench_env_close(&e);
    return 0;
}
