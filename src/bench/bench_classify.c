/*
 * bench_classify.c -- `dispatchd bench classify`:
 *   local-model     the local model's inference rate on one core (every
 *                   issue of --data, or of generated ones, classified in
 *                   turn for at least two seconds) against the 20,000/s a
 *                   core target, and with --data (a labelled CSV) its
 *                   5-fold cross-validated macro-F1 (`dispatchd eval --cv`);
 * and with --llm, on the configuration's broker, database and LLM endpoint
 * ([openai]; each request is paid for on a real one), in a scratch
 * namespace:
 *   llm-concurrency N issues classified by the openai provider with 1,000
 *                   requests allowed in flight, against in-flight / the
 *                   endpoint's latency (measured first, sequentially): the
 *                   LLM stage alone, then the whole pipeline;
 *   rate-limit      the group-wide limit at 50 requests/s (3,000 a minute)
 *                   for over a minute: the busiest 60 s of requests made.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_env.h"
#include "bench_suites.h"
#include "bench_util.h"
#include "cli.h"
#include "dataset.h"
#include "issue_gen.h"
#include "local.h"

static const char *USAGE =
    "usage: dispatchd bench classify [--data FILE.csv] [--llm [--llm-records N] [--rate-records M]]\n"
    "FILE: label, title, body and repo columns (NLBSE'24's training file, e.g.; repo optional): the\n"
    "local model's rate on its issues and its 5-fold CV macro-F1; without it, 2,000 generated\n"
    "issues and no F1. --llm: the openai provider against the configured endpoint, N (60,000)\n"
    "issues at 1,000 in flight, then M (3,700) under a 50/s group limit -- every request is paid\n"
    "for on a real endpoint.\n";

typedef struct texts {
    char **repo, **title, **body;
    size_t n;
} texts_t;

static void texts_add(texts_t *t, const char *repo, const char *title, const char *body)
{
    if (t->n % 1024 == 0) {
        t->repo = realloc(t->repo, (t->n + 1024) * sizeof(char *));
        t->title = realloc(t->title, (t->n + 1024) * sizeof(char *));
        t->body = realloc(t->body, (t->n + 1024) * sizeof(char *));
    }
    t->repo[t->n] = repo ? strdup(repo) : NULL;
    t->title[t->n] = strdup(title);
    t->body[t->n++] = strdup(body);
}

static int texts_from_csv(texts_t *t, const char *path)
{
    dataset_t d;
    if (dataset_load(path, &d) != 0)
        return -1;
    for (size_t i = 0; i < d.n; i++)
        texts_add(t, d.ex[i].issue.repo, d.ex[i].issue.title, d.ex[i].issue.body);
    dataset_free(&d);
    return 0;
}

static void texts_generated(texts_t *t, size_t n)
{
    uint64_t rng = 0xc1a55;
    for (size_t i = 0; i < n; i++) {
        json_t *issue = issue_gen(&rng, (long long)i + 1, (long)i + 1, 0);
        const char *body = json_string_value(json_object_get(issue, "body"));
        texts_add(t, "bench/generated", json_string_value(json_object_get(issue, "title")), body ? body : "");
        json_decref(issue);
    }
}

static void texts_free(texts_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->repo[i]);
        free(t->title[i]);
        free(t->body[i]);
    }
    free(t->repo);
    free(t->title);
    free(t->body);
}

static double local_rate(const model_t *m, const texts_t *t)
{
    model_vec_t v;
    model_vec_init(&v);
    classification_t c;
    long done = 0;
    double t0 = bench_now_s(), el;
    do {
        for (size_t i = 0; i < t->n; i++) {
            cls_input_t in = {t->title[i], t->body[i], NULL, 0, t->repo[i]};
            classify_local(m, &v, &in, &c);
        }
        done += (long)t->n;
        el = bench_now_s() - t0;
    } while (el < 2.0);
    model_vec_free(&v);
    return (double)done / el;
}

/* The macro-F1 `dispatchd eval FILE --cv 5` reports, or -1. */
static double cv_f1(const char *path)
{
    char out[8192];
    char *argv[] = {(char *)bench_self_exe(), "eval", (char *)path, "--cv", "5", NULL};
    if (bench_capture(argv, out, sizeof(out), NULL) != 0)
        return -1;
    const char *macro = strstr(out, "macro avg");
    double p, r, f;
    return macro && sscanf(macro, "macro avg %lf %lf %lf", &p, &r, &f) == 3 ? f : -1;
}

static int local_model(bench_ctx_t *ctx, const char *data)
{
    config_t cfg;
    char err[512];
    if (config_load(&cfg, ctx->cfg_file, err, sizeof(err)) != 0) {
        cli_error("bench classify: %s", err);
        return EXIT_USAGE;
    }
    model_t *m = model_load(cfg.model_file, err, sizeof(err));
    config_free(&cfg);
    if (m == NULL) {
        cli_error("bench classify: %s", err);
        return 1;
    }
    texts_t t = {0};
    if (data != NULL ? texts_from_csv(&t, data) != 0 : (texts_generated(&t, 2000), 0)) {
        model_free(m);
        return EXIT_USAGE;
    }
    double rate = local_rate(m, &t);
    model_free(m);
    char f1[32] = "n/a";
    if (data != NULL) {
        double f = cv_f1(data);
        if (f < 0) {
            cli_error("bench classify: `dispatchd eval %s --cv 5` failed", data);
            texts_free(&t);
            return 1;
        }
        snprintf(f1, sizeof(f1), "%.4f", f);
    } else {
        bench_note(&ctx->rep, "no --data: generated issues, no F1");
    }
    bench_emit(&ctx->rep, "local-model", "issues_per_s_per_core=%.0f cv_macro_f1=%s target_per_s=20000 ratio=%.2f issues=%zu",
               rate, f1, rate / 20000, t.n);
    texts_free(&t);
    return 0;
}

int bench_classify(int argc, char **argv, bench_ctx_t *ctx)
{
    if (bench_wants_help(argc, argv, USAGE))
        return 0;
    const char *data = NULL;
    bool llm = false;
    double n = 60000, rate_n = 3700;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;   /* the flag has a value */
        if (strcmp(f, "--llm") == 0) {
            llm = true, takes = false;
        } else if (strcmp(f, "--data") == 0 && v != NULL) {
            data = v;
        } else if (strcmp(f, "--llm-records") == 0) {
            if (bench_flag_number("bench classify", f, v, 10, 1e8, &n))
                return EXIT_USAGE;
        } else if (strcmp(f, "--rate-records") == 0) {
            if (bench_flag_number("bench classify", f, v, 10, 1e7, &rate_n))
                return EXIT_USAGE;
        } else {
            cli_error("bench classify: unknown or incomplete option '%s'\n%s", f, USAGE);
            return EXIT_USAGE;
        }
        i += takes;
    }
    int rc = local_model(ctx, data);
    if (rc == 0 && llm)
        rc = bench_classify_llm(ctx, (long)n, (long)rate_n);
    return rc;
}
