/*
 * eval.c -- `dispatchd eval CSV [--model MODEL] [--cv K] [--cascade]`: how
 * good the local classifier (model.h) is on labelled issues (dataset.h).
 * Precision, recall and F1 per class and their macro average, for a
 * trained model or, with --cv K, K-fold cross-validation on the file
 * itself (the mean of 3 differently shuffled fold sets); the expected
 * calibration error of its confidences; with --cascade, for thresholds
 * from 0.5 to 0.95, the share the local model keeps, its accuracy and
 * macro-F1 there, the share sent to the LLM and what that costs per 1,000
 * issues at the configured price.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "dataset.h"
#include "model.h"

static const char *EVAL_USAGE =
    "usage: dispatchd eval CSV [--model MODEL] [--cv K [--seeds S] [--c C]] [--cascade] [--config FILE]\n"
    "--cv K: K-fold cross-validation, repeated over S (3, at most 10) differently shuffled fold sets.\n";

enum { CV_SEEDS = 3, CV_MAX_SEEDS = 10, ECE_BINS = 10 };

/* Predictions of labelled issues: class and confidence, with the truth. */
typedef struct preds {
    int *pred, *label;
    double *conf;
    size_t n;
} preds_t;

/* Precision, recall and F1 of each class over the predictions i with
 * keep[i] (NULL: all): prf[k][0..2]; the macro F1. */
static double scores_of(const preds_t *p, const bool *keep, int nclasses, double prf[][3])
{
    double macro_f = 0;
    for (int k = 0; k < nclasses; k++) {
        long tp = 0, fp = 0, fn = 0;
        for (size_t i = 0; i < p->n; i++) {
            if (keep && !keep[i])
                continue;
            tp += p->pred[i] == k && p->label[i] == k;
            fp += p->pred[i] == k && p->label[i] != k;
            fn += p->pred[i] != k && p->label[i] == k;
        }
        double pr = tp + fp ? (double)tp / (double)(tp + fp) : 0, r = tp + fn ? (double)tp / (double)(tp + fn) : 0;
        prf[k][0] = pr, prf[k][1] = r, prf[k][2] = pr + r > 0 ? 2 * pr * r / (pr + r) : 0;
        macro_f += prf[k][2] / nclasses;
    }
    return macro_f;
}

static void print_table(const dataset_t *d, double prf[][3], const char *what)
{
    printf("%s: %zu issues\n%-16s %9s %9s %9s %8s\n", what, d->n, "class", "precision", "recall", "f1", "support");
    double macro[3] = {0};
    for (int k = 0; k < d->nclasses; k++) {
        long support = 0;
        for (size_t i = 0; i < d->n; i++)
            support += d->ex[i].label == k;
        printf("%-16s %9.4f %9.4f %9.4f %8ld\n", d->names[k], prf[k][0], prf[k][1], prf[k][2], support);
        for (int j = 0; j < 3; j++)
            macro[j] += prf[k][j] / d->nclasses;
    }
    printf("%-16s %9.4f %9.4f %9.4f %8zu\n", "macro avg", macro[0], macro[1], macro[2], d->n);
}

/* The expected calibration error: over ECE_BINS bins of confidence, the
 * gap between accuracy and mean confidence, weighted by the bin's share. */
static double ece_of(const preds_t *p)
{
    double conf[ECE_BINS] = {0}, right[ECE_BINS] = {0}, count[ECE_BINS] = {0}, e = 0;
    for (size_t i = 0; i < p->n; i++) {
        int b = (int)(p->conf[i] * ECE_BINS);
        b = b < 0 ? 0 : b >= ECE_BINS ? ECE_BINS - 1 : b;
        conf[b] += p->conf[i], right[b] += p->pred[i] == p->label[i], count[b]++;
    }
    for (int b = 0; b < ECE_BINS; b++)
        if (count[b] > 0)
            e += fabs(right[b] / count[b] - conf[b] / count[b]) * count[b] / (double)p->n;
    return e;
}

static void cascade_table(const preds_t *p, int nclasses, double call_usd)
{
    printf("cascade (confidence >= threshold: kept by the local model; the rest to the LLM at $%.6f a call):\n",
           call_usd);
    printf("%9s %8s %9s %9s %8s %14s\n", "threshold", "kept", "accuracy", "macro_f1", "to_llm", "usd_per_1000");
    bool *keep = malloc(p->n * sizeof(bool));
    for (int t = 50; t <= 95; t += 5) {
        size_t kept = 0, right = 0;
        for (size_t i = 0; i < p->n; i++) {
            keep[i] = p->conf[i] >= t / 100.0;
            kept += keep[i];
            right += keep[i] && p->pred[i] == p->label[i];
        }
        double prf[MODEL_MAX_CLASSES][3], share = (double)kept / (double)p->n;
        double f1 = kept ? scores_of(p, keep, nclasses, prf) : 0;
        printf("%9.2f %8.4f %9.4f %9.4f %8.4f %14.2f\n", t / 100.0, share,
               kept ? (double)right / (double)kept : 0, f1, 1 - share, (1 - share) * 1000 * call_usd);
    }
    free(keep);
}

/* K-fold cross-validation `seeds` times (differently shuffled folds): the
 * per-class table is the seeds' mean; *all gets every seed's predictions. */
static void cross_validate(const dataset_t *d, int folds, int seeds, double c, preds_t *all)
{
    const char *names[MODEL_MAX_CLASSES];
    dataset_names(d, names);
    int *fold = malloc(d->n * sizeof(int));
    model_example_t *train = malloc(d->n * sizeof(*train));
    model_vec_t v;
    model_vec_init(&v);
    double mean[MODEL_MAX_CLASSES][3] = {{0}}, macro[CV_MAX_SEEDS];
    for (int seed = 0; seed < seeds; seed++) {
        preds_t p = {all->pred + all->n, all->label + all->n, all->conf + all->n, d->n};
        model_folds(d->ex, d->n, folds, (uint64_t)seed + 1, fold);
        for (int f = 0; f < folds; f++) {
            size_t nt = 0;
            for (size_t i = 0; i < d->n; i++)
                if (fold[i] != f)
                    train[nt++] = d->ex[i];
            model_t *m = model_train(train, nt, names, d->nclasses, c);
            for (size_t i = 0; i < d->n; i++)
                if (fold[i] == f) {
                    p.pred[i] = model_predict(m, &v, &d->ex[i].issue, &p.conf[i]);
                    p.label[i] = d->ex[i].label;
                }
            model_free(m);
        }
        all->n += d->n;
        double prf[MODEL_MAX_CLASSES][3];
        macro[seed] = scores_of(&p, NULL, d->nclasses, prf);
        for (int k = 0; k < d->nclasses; k++)
            for (int j = 0; j < 3; j++)
                mean[k][j] += prf[k][j] / seeds;
    }
    printf("macro F1 by seed:");
    for (int seed = 0; seed < seeds; seed++)
        printf(" %.4f", macro[seed]);
    printf("\n");
    char what[80];
    snprintf(what, sizeof(what), "%d-fold cross-validation, mean of %d seeds", folds, seeds);
    print_table(d, mean, what);
    model_vec_free(&v);
    free(train);
    free(fold);
}

/* A trained model's predictions of the file (its class order may differ
 * from the file's). 0, or 1 after saying why. */
static int predict_file(const dataset_t *d, const char *path, preds_t *p)
{
    char err[256];
    model_t *m = model_load(path, err, sizeof(err));
    if (m == NULL) {
        cli_error("eval: %s", err);
        return 1;
    }
    model_vec_t v;
    model_vec_init(&v);
    for (size_t i = 0; i < d->n; i++) {
        int k = model_predict(m, &v, &d->ex[i].issue, &p->conf[i]);
        p->pred[i] = -1;
        p->label[i] = d->ex[i].label;
        for (int j = 0; j < d->nclasses; j++)
            if (strcmp(d->names[j], m->classes[k]) == 0)
                p->pred[i] = j;
    }
    p->n = d->n;
    double prf[MODEL_MAX_CLASSES][3];
    scores_of(p, NULL, d->nclasses, prf);
    print_table(d, prf, path);
    model_vec_free(&v);
    model_free(m);
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    const char *csv = NULL, *path = NULL, *cfg_file = NULL;
    int folds = 0, seeds = CV_SEEDS;
    double c = 1.0;
    bool cascade = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(EVAL_USAGE, stdout);
            return 0;
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            cfg_file = argv[++i];
        } else if (strcmp(argv[i], "--cv") == 0 && i + 1 < argc) {
            folds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            seeds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--c") == 0 && i + 1 < argc) {
            c = atof(argv[++i]);
        } else if (strcmp(argv[i], "--cascade") == 0) {
            cascade = true;
        } else if (argv[i][0] != '-' && csv == NULL) {
            csv = argv[i];
        } else {
            cli_error("eval: unexpected argument '%s'\n%s", argv[i], EVAL_USAGE);
            return EXIT_USAGE;
        }
    }
    if (csv == NULL || (folds != 0 && folds < 2) || c <= 0 || (folds > 0 && path != NULL) || seeds < 1 ||
        seeds > CV_MAX_SEEDS) {
        cli_error("eval: needs CSV, and either --model or --cv of 2 or more (--seeds 1 to %d)\n%s", CV_MAX_SEEDS,
                  EVAL_USAGE);
        return EXIT_USAGE;
    }
    config_t cfg;
    char err[256];
    if (config_load(&cfg, cfg_file, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    dataset_t d;
    int rc = dataset_load(csv, &d);
    if (rc != 0) {
        config_free(&cfg);
        return rc;
    }
    size_t cap = d.n * (folds > 0 ? (size_t)seeds : 1);
    preds_t p = {malloc(cap * sizeof(int)), malloc(cap * sizeof(int)), malloc(cap * sizeof(double)), 0};
    if (folds > 0)
        cross_validate(&d, folds, seeds, c, &p);
    else
        rc = predict_file(&d, path ? path : cfg.model_file, &p);
    if (rc == 0) {
        printf("expected calibration error: %.4f (%d bins, %zu predictions)\n", ece_of(&p), ECE_BINS, p.n);
        if (cascade)
            cascade_table(&p, d.nclasses, config_llm_call_cost(&cfg));
    }
    free(p.pred);
    free(p.label);
    free(p.conf);
    config_free(&cfg);
    dataset_free(&d);
    return rc;
}
