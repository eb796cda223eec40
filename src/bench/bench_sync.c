/*
 * bench_sync.c -- `dispatchd bench sync OWNER/REPO`: a sync from the
 * configured GitHub API on the configuration's broker and database, in a
 * scratch namespace. Its issues/s -- fetched, published, stored and
 * classified, from the command's start until the sync is `completed` --
 * against fetching alone (the same walk, gh_page.h, one request at a
 * time, keeping nothing), in one run: ratio = sync / fetch-only (the
 * pipeline keeps up with the fetch when it nears 1). Then a resync of the
 * unchanged repository.
 */
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_env.h"
#include "bench_suites.h"
#include "bench_util.h"
#include "cli.h"
#include "gh_page.h"
#include "gh_rules.h"
#include "schema.h"
#include "strbuf.h"

static const char *USAGE =
    "usage: dispatchd bench sync OWNER/REPO\n"
    "Fetches the repository's issues from the configured GitHub API alone, then syncs them through\n"
    "a worker (every issue classified, stored and published), then syncs again unchanged.\n";

typedef struct fetch {
    strbuf_t body;
    char next[GH_URL_MAX];
} fetch_t;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    fetch_t *f = ud;
    size_t vlen;
    const char *v = gh_header_value(p, size * n, "link", &vlen);
    if (v != NULL) {
        char link[GH_URL_MAX * 2];
        snprintf(link, sizeof(link), "%.*s", (int)vlen, v);
        if (!gh_link(link, "next", f->next, sizeof(f->next)))
            f->next[0] = '\0';
    }
    return size * n;
}

/* The walk alone: issues and pages, seconds. 0, or -1 with err. */
static int fetch_only(const config_t *cfg, const char *owner, const char *repo, long *issues, long *pages,
                      double *seconds, char *err, size_t errlen)
{
    gh_cursor_t cur;
    gh_cursor_init(&cur);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/vnd.github+json");
    char auth[512];
    if (cfg->github_token && cfg->github_token[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->github_token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "dispatchd-bench");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    fetch_t f;
    sb_init(&f.body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_to_sb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &f.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &f);
    *issues = *pages = 0;
    int rc = 0;
    double t0 = bench_now_s();
    while (!cur.done && rc == 0) {
        char url[GH_URL_MAX];
        if (gh_cursor_url(&cur, cfg->github_api_url, owner, repo, url, sizeof(url)) != 0) {
            snprintf(err, errlen, "the next page's URL does not fit");
            rc = -1;
            break;
        }
        f.body.len = 0;
        f.next[0] = '\0';
        curl_easy_setopt(c, CURLOPT_URL, url);
        long status = 0;
        CURLcode cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK || status != 200) {
            snprintf(err, errlen, "GET %.300s: %ld (%s)", url, status, curl_easy_strerror(cc));
            rc = -1;
            break;
        }
        gh_page_t p;
        if (gh_page_take(&p, f.body.data ? f.body.data : "", f.body.len, f.next, &cur, err, errlen) != 0) {
            rc = -1;
            break;
        }
        *issues += p.n;
        (*pages)++;
        gh_page_free(&p);
    }
    *seconds = bench_now_s() - t0;
    sb_free(&f.body);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    gh_cursor_free(&cur);
    return rc;
}

typedef struct sync_row {
    char status[24];
    long fetched, pages, synced, published;
} sync_row_t;

static int read_row(PGconn *db, const char *owner, const char *repo, sync_row_t *r)
{
    const char *v[] = {owner, repo};
    PGresult *res = PQexecParams(db,
                                 "SELECT sync_status, issues_fetched, pages_fetched, issues_synced, issues_published "
                                 "FROM dispatchai.repository_syncs WHERE repository_owner = $1 AND repository_name = $2",
                                 2, NULL, v, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (ok) {
        snprintf(r->status, sizeof(r->status), "%s", PQgetvalue(res, 0, 0));
        r->fetched = atol(PQgetvalue(res, 0, 1));
        r->pages = atol(PQgetvalue(res, 0, 2));
        r->synced = atol(PQgetvalue(res, 0, 3));
        r->published = atol(PQgetvalue(res, 0, 4));
    }
    PQclear(res);
    return ok ? 0 : -1;
}

/* The command, then until the workers stored and classified every event
 * (the row says completed): seconds, or -1. */
static double sync_once(bench_env_t *e, PGconn *db, const char *full, const char *owner, const char *repo,
                        sync_row_t *row)
{
    double t0 = bench_now_s();
    const char *args[] = {"sync", full, "--force", NULL};
    if (bench_command(e, args, NULL, 0) != 0)
        return -1;
    while (bench_now_s() - t0 < 1800) {
        if (read_row(db, owner, repo, row) == 0 &&
            (strcmp(row->status, "completed") == 0 || strcmp(row->status, "failed") == 0 ||
             strcmp(row->status, "cancelled") == 0))
            return strcmp(row->status, "completed") == 0 ? bench_now_s() - t0 : -1;
        usleep(50000);
    }
    return -1;
}

int bench_sync(int argc, char **argv, bench_ctx_t *ctx)
{
    if (bench_wants_help(argc, argv, USAGE))
        return 0;
    const char *slash = argc == 2 ? strchr(argv[1], '/') : NULL;
    if (slash == NULL || !gh_name_valid(argv[1], (size_t)(slash - argv[1])) ||
        !gh_name_valid(slash + 1, strlen(slash + 1))) {
        cli_error("bench sync: expected OWNER/REPO\n%s", USAGE);
        return EXIT_USAGE;
    }
    char owner[128], repo[128];
    snprintf(owner, sizeof(owner), "%.*s", (int)(slash - argv[1]), argv[1]);
    snprintf(repo, sizeof(repo), "%s", slash + 1);
    bench_env_t e;
    char err[512];
    bool usage;
    if (bench_env_open(&e, ctx->cfg_file, true, &usage, err, sizeof(err)) != 0) {
        cli_error("bench sync: %s", err);
        bench_env_close(&e);
        return usage ? EXIT_USAGE : 1;
    }
    int rc = 1;
    long issues, pages;
    double fetch_s, secs, resync;
    sync_row_t row, again;
    PGconn *db = NULL;
    if (fetch_only(&e.cfg, owner, repo, &issues, &pages, &fetch_s, err, sizeof(err)) != 0)
        goto out;
    bench_note(&ctx->rep, "fetch-only: %ld issues in %ld pages, %.2f s", issues, pages, fetch_s);
    if ((db = pg_connect(e.db_url, err, sizeof(err))) == NULL ||
        bench_worker_start(&e, NULL, "sync", NULL, err, sizeof(err)) != 0)
        goto out;
    if ((secs = sync_once(&e, db, argv[1], owner, repo, &row)) < 0) {
        snprintf(err, sizeof(err), "the sync did not complete (status %s)", row.status);
        goto out;
    }
    if (row.fetched != issues || row.synced != issues) {
        snprintf(err, sizeof(err), "the sync fetched %ld and stored %ld of %ld issues", row.fetched, row.synced, issues);
        goto out;
    }
    if ((resync = sync_once(&e, db, argv[1], owner, repo, &again)) < 0) {
        snprintf(err, sizeof(err), "the resync did not complete (status %s)", again.status);
        goto out;
    }
    double rate = (double)issues / secs, fetch_rate = (double)issues / fetch_s;
    bench_emit(&ctx->rep, "github-sync",
               "issues=%ld pages_per_s=%.1f issues_per_s=%.0f fetch_only_issues_per_s=%.0f ratio=%.3f "
               "resync_unchanged_s=%.2f resync_published=%ld",
               issues, (double)row.pages / secs, rate, fetch_rate, rate / fetch_rate, resync, again.published);
    rc = 0;
out:
    if (rc != 0)
        cli_error("bench sync: %s", err);
    if (db)
        PQfinish(db);
    bench_env_close(&e);
    return rc;
}
