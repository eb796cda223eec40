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
 * (bench_copy.h) writes the same rows into the same tables afterwards, from
 * buffers formatted beforehand. The two take turns for a few rounds, each
 * into emptied tables after a checkpoint, and the round with the median
 * ratio is reported: this machine's speed moves by a fifth from minute to
 * minute, and both sides of one round see the same. The naive side connects for each message
 * and commits each row on its own. The texts are real issues' when a CSV
 * is given (bench_texts.h). BENCH_TRACE=1 prints the dispatchd side's
 * progress every 250 ms.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_copy.h"
#include "bench_cpu.h"
#include "bench_env.h"
#include "bench_suites.h"
#include "bench_texts.h"
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

/* What a partition-consumer would hand storage for payload i. */
static record_t *make_record(const bench_texts_t *in, size_t i, rt_actor_t *owner)
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

/* One round of the dispatchd side into emptied tables; its CPU per row,
 * this process's and PostgreSQL's, in *cpu. */
static double run_dispatchd(const bench_texts_t *in, const config_t *cfg, PGconn *c, bench_copy_cpu_t *cpu)
{
    if (!pg_command(c, "BEGIN; SET LOCAL dispatchd.deleting = 'bench';"
                       " TRUNCATE dispatchai.issues, dispatchai.enriched_issues, dispatchai.applied_batches; COMMIT;"
                       " CHECKPOINT")) {
        fprintf(stderr, "bench storage: emptying the tables: %s", PQerrorMessage(c));
        exit(1);
    }
    __atomic_store_n(&g_done, 0, __ATOMIC_RELEASE);
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
    pid_t postmaster = bench_pg_postmaster(c);
    double cpu0 = bench_cpu_s(0, 0), pg0 = bench_cpu_tree_s(postmaster), t0 = bench_now_s();
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
    cpu->client_s = bench_cpu_s(0, 0) - cpu0;
    cpu->pg_s = bench_cpu_tree_s(postmaster) - pg0;
    cpu->client_share = cpu->client_s / t;
    free(recs);
    rt_shutdown(env.rt);
    rt_destroy(env.rt);
    free(to);
    free(status);
    return (double)in->n / t;
}

/* The original service: per message a new connection, the issue row in
 * its own transaction, then its classification in another. */
static double run_naive(const bench_texts_t *in, const char *url, size_t count)
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
        issue_row_build(&row, &recs[i]->event, &recs[i]->cls, NULL, recs[i]->rkm->payload, recs[i]->rkm->len,
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

typedef struct round {
    double d, cp, ratio;
    bench_copy_cpu_t dcpu, ccpu;
} round_t;

static int by_ratio(const void *a, const void *b)
{
    double x = ((const round_t *)a)->ratio, y = ((const round_t *)b)->ratio;
    return (x > y) - (x < y);
}

static const char *USAGE =
    "usage: dispatchd bench storage [--rows N] [--rounds R] [--naive-rows M] [--texts FILE.csv]\n"
    "Writes N issues (50,000; each an issue row and an enriched row) through dispatchd's storage\n"
    "actors, then the same rows by COPY, R times (5) in turn, then M (2,000) the original service's\n"
    "way, in a scratch database on the configured server. The round with the median ratio is\n"
    "reported (the machine's speed moves between rounds; both sides of a round share it). Titles and bodies come from FILE (columns label, title,\n"
    "body: the NLBSE'24 layout; cycled, bodies cut at 8,000 bytes), or are generated at the\n"
    "lengths real issues have.\n";

int bench_storage(int argc, char **argv, bench_ctx_t *ctx)
{
    if (bench_wants_help(argc, argv, USAGE))
        return 0;
    double rows = 50000, naive_rows = 2000, rounds = 5;
    const char *texts = NULL;
    for (int i = 1; i < argc; i += 2) {   /* every flag takes a value */
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "--rows") == 0) {
            if (bench_flag_number("bench storage", f, v, 1, 1e8, &rows))
                return EXIT_USAGE;
        } else if (strcmp(f, "--rounds") == 0) {
            if (bench_flag_number("bench storage", f, v, 1, 15, &rounds))
                return EXIT_USAGE;
        } else if (strcmp(f, "--naive-rows") == 0) {
            if (bench_flag_number("bench storage", f, v, 1, 1e7, &naive_rows))
                return EXIT_USAGE;
        } else if (strcmp(f, "--texts") == 0 && v != NULL) {
            texts = v;
        } else {
            cli_error("bench storage: unknown or incomplete option '%s'\n%s", f, USAGE);
            return EXIT_USAGE;
        }
    }
    bench_texts_t in;
    if (bench_texts_make(&in, (size_t)rows, texts, 900000000LL) != 0) {
        bench_texts_free(&in);
        return EXIT_USAGE;
    }
    bench_env_t e;
    char err[512];
    bool usage;
    if (bench_env_open(&e, ctx->cfg_file, false, &usage, err, sizeof(err)) != 0) {
        cli_error("bench storage: %s", err);
        bench_env_close(&e);
        bench_texts_free(&in);
        return usage ? EXIT_USAGE : 1;
    }
    size_t naive_n = (size_t)naive_rows < in.n ? (size_t)naive_rows : in.n;
    PGconn *c = pg_connect(e.db_url, err, sizeof(err));
    if (c == NULL) {
        cli_error("bench storage: %s", err);
        bench_env_close(&e);
        bench_texts_free(&in);
        return 1;
    }
    bench_note(&ctx->rep, "%zu issues (issue row + enriched row each, %s texts, %.0f bytes an event); naive peer: %zu",
               in.n, texts ? "real" : "generated", (double)in.bytes / (double)in.n, naive_n);
    if (!pg_command(c, "CREATE TABLE bench_naive_issues (LIKE dispatchai.issues INCLUDING ALL);"
                       "CREATE TABLE bench_naive_enriched (LIKE dispatchai.enriched_issues INCLUDING ALL)")) {
        fprintf(stderr, "bench storage: the naive peer's tables: %s", PQerrorMessage(c));
        exit(1);
    }
    bench_copy_t copy;
    bench_copy_prepare(&copy, &in);
    int nr = (int)rounds;
    round_t r[15];
    for (int k = 0; k < nr; k++) {
        r[k].d = run_dispatchd(&in, &e.cfg, c, &r[k].dcpu);
        r[k].cp = bench_copy_run(c, &copy, &r[k].ccpu);
        r[k].ratio = r[k].d / r[k].cp;
        bench_note(&ctx->rep, "round %d: dispatchd %.0f rows/s, COPY %.0f rows/s, ratio %.3f", k + 1, r[k].d, r[k].cp,
                   r[k].ratio);
    }
    bench_copy_free(&copy);
    qsort(r, (size_t)nr, sizeof(r[0]), by_ratio);
    const round_t *m = &r[nr / 2];
    double n = (double)in.n, d = m->d;
    double nv = run_naive(&in, e.db_url, naive_n);
    bench_emit(&ctx->rep, "storage-vs-copy",
               "copy_rows_per_s=%.0f dispatchd_rows_per_s=%.0f ratio=%.3f ratio_min=%.3f ratio_max=%.3f rounds=%d "
               "pg_cpu_us_per_row=%.0f copy_pg_cpu_us_per_row=%.0f client_cpu_us_per_row=%.0f "
               "copy_client_cpu_us_per_row=%.1f rows=%zu storage_connections=%d texts=%s",
               m->cp, d, m->ratio, r[0].ratio, r[nr - 1].ratio, nr, m->dcpu.pg_s * 1e6 / n, m->ccpu.pg_s * 1e6 / n,
               m->dcpu.client_s * 1e6 / n, m->ccpu.client_s * 1e6 / n, in.n, e.cfg.storage_connections,
               texts ? "real" : "generated");
    bench_emit(&ctx->rep, "storage-vs-naive", "naive_rows_per_s=%.0f dispatchd_rows_per_s=%.0f ratio=%.1f naive_rows=%zu",
               nv, d, d / nv, naive_n);
    PQfinish(c);
    bench_texts_free(&in);
    bench_env_close(&e);
    return 0;
}
