/* run.c -- `dispatchd run`: the worker. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kafka.h"
#include "log.h"
#include "pipeline.h"
#include "server.h"
#include "shutdown_guard.h"

static const char *USAGE =
    "usage: dispatchd run [--config FILE]\n"
    "Consumes issues.raw, classifies, stores to PostgreSQL, publishes issues.enriched,\n"
    "and serves the control plane, until SIGINT or SIGTERM; then drains and exits 0.\n"
    "SIGHUP reloads the limits (daily and per-user budgets, requests and tokens per minute).\n";

/* SIGHUP: the configuration is read again (file and environment) and its
 * limits apply from now on; a bad file changes nothing. */
static void reload(const config_t *cfg, pipeline_t *p)
{
    char err[512];
    config_t *fresh = calloc(1, sizeof(*fresh));
    if (fresh == NULL || config_load(fresh, cfg->file, err, sizeof(err)) != 0) {
        log_warn("run", "SIGHUP: configuration not reloaded: %s", fresh ? err : "out of memory");
        if (fresh != NULL) {
            config_free(fresh);
            free(fresh);
        }
        return;
    }
    log_info("run", "SIGHUP: limits reloaded (daily %d, per user %d, %zu user entries, %d requests/min, %d tokens/min)",
             fresh->daily_limit, fresh->user_daily_limit, fresh->n_user_limits, fresh->classify_rate_limit,
             fresh->token_rate_limit);
    pipeline_reload_limits(p, fresh);
}

/* Runs until a stop signal; returns the exit code. */
static int serve(const config_t *cfg, sigset_t *stop)
{
    char err[512];
    kafka_env_t kenv;
    if (kafka_env_open(&kenv, cfg, true, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        return 1;
    }
    int code = 1;
    pipeline_t *p = NULL;
    http_server_t *http = NULL;
    if (kafka_topics_ensure(cfg, &kenv, false, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        goto out;
    }
    p = pipeline_start(cfg, &kenv, err, sizeof(err), &code);
    if (p == NULL) {
        cli_error("%s", err);
        goto out;
    }
    pipeline_view_t view = pipeline_view(p);
    http = http_start(cfg, &view, err, sizeof(err));
    if (http == NULL) {
        cli_error("%s", err);
        code = EXIT_USAGE;
        goto out;
    }
    log_info("run", "dispatchd %s running", DISPATCHD_VERSION);
    int sig = 0;
    while (sigwait(stop, &sig) == 0 && sig == SIGHUP)
        reload(cfg, p);
    log_info("run", "%s: draining (stopped within %d ms at most)", sig == SIGINT ? "SIGINT" : "SIGTERM",
             cfg->shutdown_timeout_ms);
    shutdown_guard_arm(cfg->shutdown_timeout_ms);
    code = 0;
out:
    /* The control plane goes first: its handlers read the pipeline. */
    shutdown_guard_step("stopping the control plane");
    http_stop(http);
    int stopped = p ? pipeline_stop(p, shutdown_guard_step) : 0;
    if (stopped < 0)
        code = 1;
    else if (stopped > 0 && code == 0)
        code = SHUTDOWN_EXIT_ABANDONED;
    shutdown_guard_step("closing the embedded broker");
    kafka_env_close(&kenv);
    shutdown_guard_disarm();
    if (code == 0)
        log_info("run", "stopped");
    else if (code == SHUTDOWN_EXIT_ABANDONED)
        log_warn("run", "stopped; records in flight were abandoned (exit %d)", code);
    return code;
}

int cmd_run(int argc, char **argv)
{
    config_t cfg;
    int rc = cli_load_config(argc, argv, USAGE, &cfg);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    /* Block the stop signals in every thread; this one waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    log_start_async();
    rc = serve(&cfg, &stop);
    log_stop_async();
    config_free(&cfg);
    return rc;
}
