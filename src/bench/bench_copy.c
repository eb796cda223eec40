/* bench_copy.c -- see bench_copy.h. */
#include "bench_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cpu.h"
#include "bench_util.h"
#include "classification.h"
#include "event.h"
#include "issue_row.h"
#include "schema.h"
#include "strbuf.h"

static void exec_or_die(PGconn *c, const char *sql)
{
    if (!pg_command(c, sql)) {
        fprintf(stderr, "bench copy: %.60s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
}

/* Both tables' COPY text for every event, parsed and classified as the
 * pipeline does. */
static void format_rows(const bench_texts_t *t, strbuf_t *issues, strbuf_t *enriched)
{
    for (size_t i = 0; i < t->n; i++) {
        issue_event_t ev;
        char err[256], id[24];
        if (issue_event_parse(&ev, t->payloads[i], strlen(t->payloads[i]), 1 << 24, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench copy: event %zu: %s\n", i, err);
            exit(1);
        }
        classification_t cls;
        cls_input_t in = cls_input_of(&ev);
        classify_rules(&in, &cls);
        issue_row_t row;
        issue_row_build(&row, &ev, &cls, NULL, t->payloads[i], strlen(t->payloads[i]), "bench-user");
        snprintf(id, sizeof(id), "%zu", i + 1);
        pg_copy_field(issues, id, 0);
        for (int k = 0; k < ISSUE_ROW_ISSUE_COLUMNS; k++)
            pg_copy_field(issues, row.v[k], k == ISSUE_ROW_ISSUE_COLUMNS - 1);
        pg_copy_field(enriched, id, 0);
        for (int k = ISSUE_ROW_ISSUE_COLUMNS; k < ISSUE_ROW_NPARAMS; k++)
            pg_copy_field(enriched, row.v[k], 0);
        pg_copy_field(enriched, ev.updated_at, 0);
        pg_copy_field(enriched, "2026-01-01T00:00:00Z", 1);   /* published: the row's final state */
        issue_row_free(&row);
        issue_event_free(&ev);
    }
}

static void copy_in(PGconn *c, const char *sql, const strbuf_t *b)
{
    PGresult *r = pg_copy_in(c, sql, b->data, b->len);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench copy: %s", PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

void bench_copy_prepare(bench_copy_t *cp, const bench_texts_t *t)
{
    sb_init(&cp->issues);
    sb_init(&cp->enriched);
    format_rows(t, &cp->issues, &cp->enriched);
    cp->n = t->n;
}

double bench_copy_run(PGconn *c, const bench_copy_t *cp, bench_copy_cpu_t *cpu)
{
    strbuf_t sql;
    sb_init(&sql);
    exec_or_die(c, "BEGIN; SET LOCAL dispatchd.deleting = 'bench';"
                   " TRUNCATE dispatchai.issues, dispatchai.enriched_issues; COMMIT");
    exec_or_die(c, "CHECKPOINT");
    pid_t postmaster = bench_pg_postmaster(c);
    double cpu0 = bench_cpu_s(0, 0), pg0 = bench_cpu_tree_s(postmaster), t0 = bench_now_s();
    exec_or_die(c, "BEGIN");
    sb_printf(&sql, "COPY dispatchai.issues (id, %s) FROM STDIN", ISSUE_ROW_ISSUE_COLS);
    copy_in(c, sql.data, &cp->issues);
    sql.len = 0;
    sb_printf(&sql, "COPY dispatchai.enriched_issues (issue_id, %s, source_updated_at, published_at) FROM STDIN",
              ISSUE_ROW_ENRICHED_COLS);
    copy_in(c, sql.data, &cp->enriched);
    exec_or_die(c, "COMMIT");
    double wall = bench_now_s() - t0;
    cpu->client_s = bench_cpu_s(0, 0) - cpu0;
    cpu->pg_s = bench_cpu_tree_s(postmaster) - pg0;
    cpu->client_share = cpu->client_s / wall;
    sb_free(&sql);
    return (double)cp->n / wall;
}

void bench_copy_free(bench_copy_t *cp)
{
    sb_free(&cp->issues);
    sb_free(&cp->enriched);
}
