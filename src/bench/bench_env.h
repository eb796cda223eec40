/*
 * bench_env.h -- a scratch namespace for a suite that runs dispatchd on the
 * configuration's broker and database: a database `bench<pid>_<ms>` on the
 * configured server (migrated), topics named after it (created, deleted at
 * the end), a temporary directory, and `dispatchd run` workers started from
 * this same binary on them, each reachable by its control plane. Everything
 * is removed by bench_env_close, also after a failure.
 */
#ifndef DISPATCHD_BENCH_ENV_H
#define DISPATCHD_BENCH_ENV_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

typedef struct bench_env {
    config_t cfg;              /* the configuration, pointed at the scratch database and topics */
    char tag[48];              /* the scratch names' stem */
    char work[256];            /* temporary directory */
    char conf_path[300];       /* the workers' configuration file */
    char *db_url;              /* the scratch database (key=value form) */
    char *admin_url;           /* the configured database, to drop the scratch one */
    bool made_db, made_topics;
    /* the worker last started */
    pid_t pid;
    int port;
    char url[96];              /* its http://127.0.0.1:PORT */
} bench_env_t;

/* Loads the configuration (cfg_file may be NULL: environment and defaults)
 * and makes the namespace; with_kafka creates the topics too. 0, or -1
 * with err (the caller exits 1 then; 2 for a bad configuration: *usage). */
int bench_env_open(bench_env_t *e, const char *cfg_file, bool with_kafka, bool *usage, char *err, size_t errlen);
void bench_env_close(bench_env_t *e);

/* Appends LINES (NULL-terminated) to the workers' configuration file: for
 * the settings that have no environment name. 0, or -1. */
int bench_env_conf(bench_env_t *e, const char *const *lines);

/* Starts `dispatchd run` (group TAG-NAME) with the environment plus ENV
 * ("KEY=VALUE" strings, NULL-terminated; later ones win) and waits for its
 * control plane; program NULL means this binary. 0, or -1 with err. */
int bench_worker_start(bench_env_t *e, const char *program, const char *name, const char *const *env, char *err,
                       size_t errlen);
/* SIGTERM and wait (kill: SIGKILL). Returns its exit status, -1 if killed. */
int bench_worker_stop(bench_env_t *e, bool kill);

/* The sum of the worker's /metrics series named SERIES (a bare name sums
 * every label set; with {labels} only that one; 0 when not yet there); -1
 * when unreadable. */
double bench_metric(const bench_env_t *e, const char *series);
/* The same for n series from one reading of the page into out: 0, or -1
 * when unreadable. */
int bench_metrics(const bench_env_t *e, const char *const *series, int n, double *out);

/* Watches the worker's dispatchd_records_processed_total (every 20 ms)
 * until it reaches count: the rate from the first processed record to
 * then, and with peak_of the highest value that series showed meanwhile
 * in *peak. 0, or -1 after timeout_s (err says how far it got). */
int bench_processed_rate(const bench_env_t *e, long count, double timeout_s, const char *peak_of, double *rate,
                         double *peak, char *err, size_t errlen);

/* Writes n generated GitHub issue objects (numbers first..first+n-1, ids
 * unique to them) to the work directory's NAME.jsonl, for `dispatchd sync
 * --from`; its path in path. 0, or -1. */
int bench_issues_file(const bench_env_t *e, const char *name, long n, long first, char *path, size_t pathlen);

/* Runs this binary's COMMAND ARGS... against the namespace's configuration
 * and waits: its exit status. Output to the work directory's NAME.log, its
 * standard output kept in out when given. */
int bench_command(bench_env_t *e, const char *const *args, char *out, size_t outlen);

#endif
