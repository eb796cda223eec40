/*
 * sync.c -- `dispatchd sync OWNER/REPO --from FILE.jsonl`: a batch sync
 * from a file (without --from: from the GitHub API, sync_github.c).
 * Each line of the file is a GitHub issue object (as the REST API returns
 * it); each becomes an `issues.raw` event with sync_source "manual_pull" and
 * the headers sync_id, user_id and correlation_id. Delivery is confirmed
 * (idempotent producer, acks=all) before the command reports success.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "gh_page.h"
#include "event.h"
#include "kafka.h"
#include "timefmt.h"
#include "schema.h"
#include "sync_event.h"
#include "syncs.h"
#include "uuid.h"

static const char *USAGE =
    "usage: dispatchd sync OWNER/REPO [--from FILE.jsonl] [--force] [--user ID] [--config FILE]\n"
    "Publishes the repository's issues to issues.raw: from the GitHub API (GITHUB_API_URL,\n"
    "GITHUB_TOKEN; resumable, incremental on a resync), or from FILE (one GitHub issue object\n"
    "per line). Above LARGE_SYNC_THRESHOLD issues it asks (on a terminal) or needs --force,\n"
    "showing the estimated cost.\n";

typedef struct sync_stats {
    long delivered, failed;
} sync_stats_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    sync_stats_t *s = opaque;
    if (m->err)
        s->failed++;
    else
        s->delivered++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(long done, long total, double t0, bool tty, long *last_pct)
{
    long pct = total ? done * 100 / total : 100;
    double rate = done / (now_s() - t0 + 1e-9);
    if (tty) {
        char bar[41];
        int fill = (int)(pct * 40 / 100);
        for (int i = 0; i < 40; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[40] = '\0';
        fprintf(stderr, "\r[%s] %ld/%ld %3ld%% %8.0f issues/s", bar, done, total, pct, rate);
    } else if (pct / 10 != *last_pct / 10) {
        fprintf(stderr, "sync: %ld/%ld (%ld%%)\n", done, total, pct);
    }
    *last_pct = pct;
}

int cmd_sync(int argc, char **argv)
{
    const char *repo_arg = NULL, *from = NULL, *user = "cli", *cfg_file = NULL;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", USAGE);
            return 0;
        } else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            from = argv[++i];
        } else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
            user = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            cfg_file = argv[++i];
        } else if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (argv[i][0] == '-') {
            cli_error("sync: unknown or incomplete option '%s'\n%s", argv[i], USAGE);
            return EXIT_USAGE;
        } else if (repo_arg == NULL) {
            repo_arg = argv[i];
        } else {
            cli_error("sync: unexpected argument '%s'", argv[i]);
            return EXIT_USAGE;
        }
    }
    const char *slash = repo_arg ? strchr(repo_arg, '/') : NULL;
    if (repo_arg == NULL || slash == NULL || slash == repo_arg || slash[1] == '\0' || strchr(slash + 1, '/')) {
        cli_error("sync: expected OWNER/REPO\n%s", USAGE);
        return EXIT_USAGE;
    }
    char owner[256], repo[256];
    snprintf(owner, sizeof(owner), "%.*s", (int)(slash - repo_arg), repo_arg);
    snprintf(repo, sizeof(repo), "%s", slash + 1);

    config_t cfg;
    char err[512];
    if (config_load(&cfg, cfg_file, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    if (from == NULL) {
        if (!gh_name_valid(owner, strlen(owner)) || !gh_name_valid(repo, strlen(repo))) {
            cli_error("sync: '%s' is not a GitHub OWNER/REPO", repo_arg);
            config_free(&cfg);
            return EXIT_USAGE;
        }
        int rc = cmd_sync_github(owner, repo, user, force, &cfg);
        config_free(&cfg);
        return rc;
    }
    FILE *f = fopen(from, "r");
    if (f == NULL) {
        cli_error("sync: cannot open --from '%s'", from);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    /* Count first: the size decides whether to ask for confirmation. */
    long total = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0)
        if (strspn(line, " \t\r\n") != (size_t)n)
            total++;
    if (total > cfg.large_sync_threshold && !force) {
        printf("{\"requires_confirmation\":true,\"issue_count\":%ld,\"estimated_cost_usd\":%.2f,"
               "\"message\":\"%ld issues exceed LARGE_SYNC_THRESHOLD=%d; rerun with --force\"}\n",
               total, config_sync_cost(&cfg, total), total, cfg.large_sync_threshold);
        free(line);
        fclose(f);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    rewind(f);

    int rc = 1;
    kafka_env_t kenv;
    if (kafka_env_open(&kenv, &cfg, false, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        goto out_file;
    }
    rd_kafka_conf_t *conf = kafka_conf(&cfg, &kenv, KAFKA_PRODUCER, err, sizeof(err));
    if (conf == NULL) {
        cli_error("%s", err);
        rc = EXIT_USAGE;
        goto out_env;
    }
    sync_stats_t stats = {0};
    rd_kafka_conf_set_opaque(conf, &stats);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        cli_error("kafka: %s", err);
        goto out_env;
    }

    char sync_id[37];
    uuid_v4(sync_id);
    /* Registered before anything is published, so the storage actors find
     * the row to count into, and a cancel finds the sync. */
    PGconn *db = pg_connect(cfg.database_url, err, sizeof(err));
    sync_new_t fresh = {.user = user, .owner = owner, .repo = repo, .sync_id = sync_id, .total = total};
    if (db == NULL || syncs_register(db, &fresh, err, sizeof(err)) != 0) {
        cli_error("sync: %s", err);
        goto out_db;
    }
    bool tty = isatty(STDERR_FILENO);
    double t0 = now_s();
    long lineno = 0, sent = 0, bad = 0, last_pct = -1;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)n)
            continue;
        json_error_t je;
        json_t *issue = json_loadb(line, (size_t)n, 0, &je);
        sync_event_t ev = {0};
        bool made = issue != NULL && sync_event_make(&ev, issue, owner, repo, user, err, sizeof(err)) == 0;
        if (issue == NULL) {
            char where[128];
            json_error_brief(&je, where, sizeof(where));
            snprintf(err, sizeof(err), "not JSON: %s", where);
        }
        if (!made) {
            if (tty)
                fputc('\n', stderr);
            fprintf(stderr, "sync: %s line %ld skipped: %s\n", from, lineno, err);
            bad++;
            json_decref(issue);
            continue;
        }
        json_decref(issue);
        for (;;) {
            rd_kafka_resp_err_t e = sync_event_produce(rk, cfg.topic_raw, &ev, sync_id, user, NULL);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                cli_error("kafka: produce: %s", rd_kafka_err2str(e));
                sync_event_free(&ev);
                char reason[160];
                snprintf(reason, sizeof(reason), "kafka: produce: %s", rd_kafka_err2str(e));
                syncs_published(db, sync_id, stats.delivered, reason, err, sizeof(err));
                goto out_db;
            }
            rd_kafka_poll(rk, 100);
        }
        sent++;
        rd_kafka_poll(rk, 0);
        progress(stats.delivered, total - bad, t0, tty, &last_pct);
    }
    while (rd_kafka_outq_len(rk) > 0 && now_s() - t0 < 600) {
        rd_kafka_poll(rk, 100);
        progress(stats.delivered, total - bad, t0, tty, &last_pct);
    }
    progress(stats.delivered, total - bad, t0, tty, &last_pct);
    if (tty)
        fputc('\n', stderr);   /* end the bar's line */
    printf("{\"sync_id\":\"%s\",\"repository\":\"%s/%s\",\"published\":%ld,\"failed\":%ld,\"skipped_lines\":%ld,"
           "\"seconds\":%.2f}\n",
           sync_id, owner, repo, stats.delivered, stats.failed, bad, now_s() - t0);
    rc = stats.failed == 0 && stats.delivered == sent && bad == 0 ? 0 : 1;
    char failure[128];
    snprintf(failure, sizeof(failure), "%ld events not published", stats.failed + (sent - stats.delivered));
    if (syncs_published(db, sync_id, stats.delivered, stats.failed || stats.delivered != sent ? failure : NULL, err,
                        sizeof(err)) != 0) {
        cli_error("sync: %s", err);
        rc = 1;
    }
out_db:
    if (db != NULL)
        PQfinish(db);
    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
out_env:
    kafka_env_close(&kenv);
out_file:
    free(line);
    fclose(f);
    config_free(&cfg);
    return rc;
}
