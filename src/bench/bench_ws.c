/*
 * bench_ws.c -- `dispatchd bench ws`: /ws fan-out on the configuration's
 * broker and database, in a scratch namespace, the pipeline at its full
 * rate. For each client count C (100 and 1,000) a fresh worker, C clients
 * on one epoll loop in a process of their own (ws_fanout.c), then a sync
 * of N issues classified, stored and published while every client
 * receives every event. Against the ideal (each client receiving each
 * event as fast as the pipeline makes them): delivered/s over C x
 * events/s, the events' rate from their record times, the delivery window
 * from the first record to the last receipt. Latency: record time to
 * receipt. Memory per idle client: the worker's RSS with C idle sockets
 * over its RSS before.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_env.h"
#include "bench_suites.h"
#include "bench_util.h"
#include "cli.h"
#include "ws_fanout.h"

static const char *USAGE =
    "usage: dispatchd bench ws [--events N] [--clients C[,C...]]\n"
    "N (20,000) issues synced while C (100,1000) clients each receive every event.\n";

enum { MAX_COUNTS = 8, CLIENT_TIMEOUT_S = 300 };

/* The hidden client mode: bench ws --client PORT TOKEN C N. */
static int client(char **argv)
{
    return ws_fanout_run("127.0.0.1", atoi(argv[2]), argv[3], atoi(argv[4]), atol(argv[5]), CLIENT_TIMEOUT_S);
}

static int one_count(bench_env_t *e, bench_ctx_t *ctx, int c, long n, long first, const char *token, char *err,
                     size_t errlen)
{
    char name[32], tokenv[96];
    snprintf(name, sizeof(name), "ws%d", c);
    snprintf(tokenv, sizeof(tokenv), "DISPATCHD_ADMIN_TOKEN=%s", token);
    const char *env[] = {tokenv, "DISPATCHD_WS_MAX_CLIENTS=100000", NULL};
    if (bench_worker_start(e, NULL, name, env, err, errlen) != 0)
        return -1;
    sleep(3);   /* the process settles (model, first fetches) before its RSS is read */
    long rss0 = bench_rss_kb(e->pid);
    char port[16], cs[16], ns[24];
    snprintf(port, sizeof(port), "%d", e->port);
    snprintf(cs, sizeof(cs), "%d", c);
    snprintf(ns, sizeof(ns), "%ld", n);
    char *argv[] = {(char *)bench_self_exe(), "bench", "ws", "--client", port, (char *)token, cs, ns, NULL};
    pid_t pid;
    int fd;
    char line[1024], path[400], repo[64];
    if (bench_spawn_reader(argv, &pid, &fd) != 0) {
        snprintf(err, errlen, "the clients did not start");
        return -1;
    }
    int rc = -1;
    if (bench_read_line(fd, line, sizeof(line), 60) != 0 || strcmp(line, "ready") != 0) {
        snprintf(err, errlen, "%d clients were not all connected within 60 s", c);
        kill(pid, SIGKILL);
        goto out;
    }
    sleep(1);
    long rss1 = bench_rss_kb(e->pid);
    snprintf(repo, sizeof(repo), "bench/%s", name);
    const char *sync[] = {"sync", repo, "--from", path, "--force", NULL};
    if (bench_issues_file(e, name, n, first, path, sizeof(path)) != 0 || bench_command(e, sync, NULL, 0) != 0) {
        snprintf(err, errlen, "could not produce the %ld issues", n);
        kill(pid, SIGKILL);
        goto out;
    }
    if (bench_read_line(fd, line, sizeof(line), CLIENT_TIMEOUT_S + 30) != 0) {
        snprintf(err, errlen, "the clients gave no result");
        kill(pid, SIGKILL);
        goto out;
    }
    json_t *r = json_loads(line, 0, NULL);
    double delivered = json_number_value(json_object_get(r, "delivered"));
    double fe = json_number_value(json_object_get(r, "first_event_ms"));
    double le = json_number_value(json_object_get(r, "last_event_ms"));
    double lr = json_number_value(json_object_get(r, "last_recv_ms"));
    double events_s = (double)n / ((le - fe) / 1000 > 1e-3 ? (le - fe) / 1000 : 1e-3);
    double delivered_s = delivered / ((lr - fe) / 1000 > 1e-3 ? (lr - fe) / 1000 : 1e-3);
    double ideal = c * events_s;
    long hwm = bench_peak_rss_kb(e->pid);
    char key[32];
    snprintf(key, sizeof(key), "ws-fanout-%d", c);
    bench_emit_as(&ctx->rep, "ws-fanout", key,
               "clients=%d events_per_s=%.0f delivered_per_s=%.0f ideal_per_s=%.0f ratio=%.3f p50_ms=%.0f p99_ms=%.0f "
               "peak_rss_mb=%.1f idle_kib_per_client=%.1f delivered=%.0f/%ld closed=%.0f",
               c, events_s, delivered_s, ideal, delivered_s / ideal, json_number_value(json_object_get(r, "p50_ms")),
               json_number_value(json_object_get(r, "p99_ms")), (double)hwm / 1024, (double)(rss1 - rss0) / c,
               delivered, (long)c * n, json_number_value(json_object_get(r, "closed")));
    json_decref(r);
    rc = 0;
out:
    close(fd);
    waitpid(pid, NULL, 0);
    bench_worker_stop(e, false);
    return rc;
}

int bench_ws(int argc, char **argv, bench_ctx_t *ctx)
{
    if (argc == 6 && strcmp(argv[1], "--client") == 0)
        return client(argv);
    if (bench_wants_help(argc, argv, USAGE))
        return 0;
    double n = 20000;
    int counts[MAX_COUNTS] = {100, 1000}, ncounts = 2;
    for (int i = 1; i < argc; i += 2) {   /* every flag takes a value */
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "--events") == 0) {
            if (bench_flag_number("bench ws", f, v, 1, 1e7, &n))
                return EXIT_USAGE;
        } else if (strcmp(f, "--clients") == 0 && v != NULL) {
            ncounts = 0;
            for (const char *p = v; *p && ncounts < MAX_COUNTS;) {
                char *end;
                long c = strtol(p, &end, 10);
                if (end == p || c < 1 || c > 50000 || (*end && *end != ',')) {
                    cli_error("bench ws: --clients: counts from 1 to 50000 separated by commas, not '%s'", v);
                    return EXIT_USAGE;
                }
                counts[ncounts++] = (int)c;
                p = *end ? end + 1 : end;
            }
        } else {
            cli_error("bench ws: unknown or incomplete option '%s'\n%s", f, USAGE);
            return EXIT_USAGE;
        }
    }
    bench_env_t e;
    char err[512], token[64];
    bool usage;
    if (bench_env_open(&e, ctx->cfg_file, true, &usage, err, sizeof(err)) != 0) {
        cli_error("bench ws: %s", err);
        bench_env_close(&e);
        return usage ? EXIT_USAGE : 1;
    }
    snprintf(token, sizeof(token), "%s-ws", e.tag);
    int rc = 0;
    long first = 1;
    for (int k = 0; k < ncounts && rc == 0; k++, first += (long)n)
        if (one_count(&e, ctx, counts[k], (long)n, first, token, err, sizeof(err)) != 0) {
            cli_error("bench ws: %d clients: %s", counts[k], err);
            rc = 1;
        }
    bench_env_close(&e);
    return rc;
}
