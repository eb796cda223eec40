/*
 * dlq.c -- `dispatchd dlq list|replay [filters]`: the DLQ's inspection and
 * replay from the command line, by the same actor that serves the HTTP
 * paths (dlq_jobs.h), in a runtime of its own. Prints the answer's JSON;
 * exits 0, 1 when Kafka or the database failed it, 2 for a bad filter.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_host.h"
#include "dlq_jobs.h"
#include "log.h"

static const char *USAGE =
    "usage: dispatchd dlq list   [--from T] [--to T] [--key KEY] [--error-class C] [--limit N] [--tail N]\n"
    "                            [--config FILE]\n"
    "       dispatchd dlq replay [--from T] [--to T] [--key KEY] [--error-class C] [--limit N] [--tail N]\n"
    "                            [--dry-run] [--config FILE]\n"
    "\n"
    "list: the metadata of the DLQ records that match (offset, key, error, class, attempts, times, origin;\n"
    "never a title or body), at most --limit (default 100). replay: publishes the matching records to the\n"
    "input topic again (header replayed_from), except those replayed before; --dry-run only counts.\n"
    "--tail N: only each partition's last N records.\n"
    "T: ISO 8601 (2024-05-01T12:00:00Z) or Unix milliseconds, when the record entered the DLQ; C: permanent\n"
    "or transient.\n";

/* --error-class is error_class, --dry-run dry_run. */
static const char *field_of(const char *flag, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", flag + 2);
    for (char *c = buf; *c; c++)
        if (*c == '-')
            *c = '_';
    return buf;
}

int cmd_dlq(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "replay") != 0)) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            printf("%s", USAGE);
            return 0;
        }
        cli_error("dlq: expected `list` or `replay`\n%s", USAGE);
        return EXIT_USAGE;
    }
    bool replay = strcmp(argv[1], "replay") == 0;
    const char *cfg_file = NULL;
    dlq_filter_t f;
    dlq_filter_init(&f);
    char err[512], name[64];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s", USAGE);
            return 0;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            cfg_file = argv[++i];
        } else if (strcmp(a, "--dry-run") == 0 && replay) {
            f.dry_run = true;
        } else if ((strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0 || strcmp(a, "--key") == 0 ||
                    strcmp(a, "--error-class") == 0 || strcmp(a, "--limit") == 0 ||
                    strcmp(a, "--tail") == 0) && i + 1 < argc) {
            if (dlq_filter_set(&f, field_of(a, name, sizeof(name)), argv[++i], err, sizeof(err)) != 0) {
                cli_error("dlq: %s", err);
                return EXIT_USAGE;
            }
        } else {
            cli_error("dlq: unknown or incomplete option '%s'\n%s", a, USAGE);
            return EXIT_USAGE;
        }
    }
    if (dlq_filter_check(&f, err, sizeof(err)) != 0) {
        cli_error("dlq: %s", err);
        return EXIT_USAGE;
    }
    if (!replay && f.limit > DLQ_LIST_MAX_LIMIT) {
        cli_error("dlq: limit: at most %d records a list (narrow the range)", DLQ_LIST_MAX_LIMIT);
        return EXIT_USAGE;
    }
    config_t cfg;
    if (config_load(&cfg, cfg_file, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    log_set_level((enum log_level)log_parse_level(cfg.log_level));
    cli_host_t host;
    int rc = cli_host_open(&host, &cfg);
    if (rc != 0) {
        config_free(&cfg);
        return rc;
    }
    rt_actor_t *a = dlq_jobs_spawn(&host.env);
    cli_answer_t ans = {0};
    dlq_request_msg_t *m = rt_msg_new(sizeof(*m), MSG_DLQ_REQUEST);
    m->kind = replay ? DLQ_REPLAY : DLQ_LIST;
    m->filter = f;
    m->answer_within_ms = 7 * 24 * 3600 * 1000;   /* the whole replay: a command waits for its end */
    m->reply = cli_answer;
    m->ctx = &ans;
    rt_send_force(a, m);
    int status = cli_answer_wait(&host, &ans);
    printf("%s\n", ans.json);
    rc = status == 200 ? 0 : 1;
    if (rc != 0)
        cli_error("dlq: %s failed (%d)", replay ? "replay" : "list", status);
    free(ans.json);
    cli_host_close(&host);
    config_free(&cfg);
    return rc;
}
