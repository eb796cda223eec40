/*
 * sync_github.c -- `dispatchd sync OWNER/REPO` without --from: the sync
 * from the GitHub API, run in this process by the same actor `dispatchd
 * run` uses (a runtime of its own, a producer whose delivery reports this
 * thread serves), with the same confirmation (asked on a terminal, else
 * --force) and a progress bar read from the sync's row. A sync of the same
 * repository by the same user left by a process that died is resumed.
 * The command ends when every page is fetched and in Kafka; the workers
 * store and classify the events (sync-status follows them).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_host.h"
#include "github_sync.h"
#include "schema.h"
#include "syncs.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sends a start and serves the producer until it is answered. */
static int ask_start(rt_actor_t *a, cli_host_t *h, const char *user, const char *owner, const char *repo, bool force,
                     cli_answer_t *ans)
{
    memset(ans, 0, sizeof(*ans));
    gh_sync_start_msg_t *m = rt_msg_new(sizeof(*m), MSG_GH_SYNC_START);
    snprintf(m->user, sizeof(m->user), "%s", user);
    snprintf(m->owner, sizeof(m->owner), "%s", owner);
    snprintf(m->repo, sizeof(m->repo), "%s", repo);
    m->force = force;
    m->reply = cli_answer;
    m->ctx = ans;
    rt_send_force(a, m);
    return cli_answer_wait(h, ans);
}

static bool confirm(const char *json)
{
    json_t *j = json_loads(json, 0, NULL);
    fprintf(stderr, "%lld issues; classifying them is estimated at $%.2f. Sync them? [y/N] ",
            (long long)json_integer_value(json_object_get(j, "issue_count")),
            json_real_value(json_object_get(j, "estimated_cost_usd")));
    json_decref(j);
    char line[16];
    return fgets(line, sizeof(line), stdin) != NULL && (line[0] == 'y' || line[0] == 'Y');
}

/* The sync's row: NULL when the database did not answer. */
static json_t *row(PGconn **c, const config_t *cfg, const char *user, const char *owner, const char *repo)
{
    char err[256];
    if (pg_keep(c, cfg->database_url, err, sizeof(err)) == NULL)
        return NULL;
    int status;
    json_t *j = syncs_status(*c, user, owner, repo, &status);
    if (status != 200) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static long num(json_t *j, const char *k)
{
    return (long)json_integer_value(json_object_get(j, k));
}

static void bar(json_t *r, bool tty)
{
    long total = num(r, "issues_total"), fetched = num(r, "issues_fetched");
    long pct = total > 0 ? (fetched >= total ? 100 : fetched * 100 / total) : 0;
    const char *until = json_string_value(json_object_get(r, "waiting_until"));
    json_t *eta = json_object_get(r, "eta_seconds");
    char bar[31];
    for (int i = 0; i < 30; i++)
        bar[i] = i < pct * 30 / 100 ? '#' : '.';
    bar[30] = '\0';
    char line[400];
    snprintf(line, sizeof(line), "[%s] %3ld%% pages %ld, issues %ld/%ld, published %ld, waits %ld%s%s, ETA %s%lds",
             bar, pct, num(r, "pages_fetched"), fetched, total, num(r, "issues_published"), num(r, "rate_limit_waits"),
             until ? ", waiting until " : "", until ? until : "", json_is_number(eta) ? "" : "~",
             json_is_number(eta) ? (long)json_number_value(eta) : 0L);
    if (tty)
        fprintf(stderr, "\r%-150s", line);
    else
        fprintf(stderr, "sync: %s\n", line);
}

int cmd_sync_github(const char *owner, const char *repo, const char *user, bool force, config_t *cfg)
{
    int rc;
    cli_host_t host;
    if ((rc = cli_host_open(&host, cfg)) != 0)
        return rc;
    rc = 1;
    rd_kafka_t *rk = host.producer;
    gh_sync_scope_t scope = {user, owner, repo};
    rt_actor_t *a = github_sync_spawn(&host.env, &scope);
    cli_answer_t ans;
    int code = ask_start(a, &host, user, owner, repo, force, &ans);
    if (code == 200 && isatty(STDIN_FILENO) && confirm(ans.json)) {
        free(ans.json);
        code = ask_start(a, &host, user, owner, repo, true, &ans);
    }
    if (code == 409) {
        /* Resumed here: a sync of ours that a process left behind. */
        json_t *j = json_loads(ans.json, 0, NULL);
        if (json_is_true(json_object_get(j, "running_here"))) {
            fprintf(stderr, "sync: resuming sync %s where it stopped\n",
                    json_string_value(json_object_get(j, "sync_id")));
            code = 202;
        }
        json_decref(j);
    }
    PGconn *c = NULL;
    double t0 = now_s();
    if (code == 200) {
        printf("%s\n", ans.json);   /* the confirmation: nothing was started */
        rc = EXIT_USAGE;
    } else if (code != 202) {
        cli_error("sync: %s", ans.json);
    } else {
        bool tty = isatty(STDERR_FILENO);
        double shown = 0;
        json_t *r = NULL;
        double looked = 0;
        for (;;) {
            rd_kafka_poll(rk, 50);
            if (now_s() - looked < 0.2)
                continue;
            looked = now_s();
            json_t *fresh = row(&c, cfg, user, owner, repo);
            if (fresh == NULL)
                continue;
            json_decref(r);
            r = fresh;
            bool fetched = !json_is_true(json_object_get(r, "fetching"));
            if (fetched || now_s() - shown >= (tty ? 0.5 : 5.0)) {
                shown = now_s();
                bar(r, tty);
            }
            if (fetched)
                break;
        }
        if (tty)
            fputc('\n', stderr);
        const char *st = json_string_value(json_object_get(r, "sync_status"));
        json_object_set_new(r, "seconds", json_real(now_s() - t0));
        char *text = json_dumps(r, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
        rc = st && (strcmp(st, "completed") == 0 || strcmp(st, "syncing") == 0) ? 0 : 1;
        const char *why = json_string_value(json_object_get(r, "error_message"));
        if (rc != 0)
            cli_error("sync: %s: %s", st ? st : "?", why ? why : "see sync-status");
        json_decref(r);
    }
    free(ans.json);
    cli_host_close(&host);
    if (c)
        PQfinish(c);
    return rc;
}
