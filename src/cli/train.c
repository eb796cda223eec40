/*
 * train.c -- `dispatchd train CSV -o MODEL` and `dispatchd eval CSV
 * [--model MODEL] [--cv K]`: the local classifier (model.h) from a CSV of
 * labelled issues with columns label, title and body (the NLBSE'24 file's
 * layout; other columns are ignored). eval prints precision, recall and F1
 * per class and their macro average, for a trained model or, with --cv K,
 * for K-fold cross-validation on the file itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "csv.h"
#include "model.h"

static const char *TRAIN_USAGE = "usage: dispatchd train CSV -o MODEL [--c C]\n";
static const char *EVAL_USAGE = "usage: dispatchd eval CSV [--model MODEL] [--cv K [--c C]]\n";

typedef struct dataset {
    model_example_t *ex;
    char **titles, **bodies;
    size_t n, cap;
    char names[MODEL_MAX_CLASSES][32];
    int nclasses;
} dataset_t;

static int class_of(dataset_t *d, const char *label)
{
    for (int k = 0; k < d->nclasses; k++)
        if (strcmp(d->names[k], label) == 0)
            return k;
    if (d->nclasses == MODEL_MAX_CLASSES)
        return -1;
    snprintf(d->names[d->nclasses], sizeof(d->names[0]), "%s", label);
    return d->nclasses++;
}

static int load(const char *path, dataset_t *d)
{
    memset(d, 0, sizeof(*d));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        cli_error("cannot open %s", path);
        return EXIT_USAGE;
    }
    csv_reader_t r;
    csv_open(&r, f);
    csv_record_t rec;
    char err[160];
    int rc = csv_read(&r, &rec, err, sizeof(err));
    int cl = rc == 1 ? csv_column(&rec, "label") : -1, ct = rc == 1 ? csv_column(&rec, "title") : -1,
        cb = rc == 1 ? csv_column(&rec, "body") : -1;
    if (cl < 0 || ct < 0 || cb < 0) {
        cli_error("%s: the header must name the columns label, title and body", path);
        csv_close(&r);
        fclose(f);
        return EXIT_USAGE;
    }
    while ((rc = csv_read(&r, &rec, err, sizeof(err))) == 1) {
        int need = cl > ct ? cl : ct;
        need = need > cb ? need : cb;
        if (rec.n <= need)
            continue;   /* a short line (e.g. a blank one) */
        int k = class_of(d, rec.field[cl]);
        if (k < 0) {
            cli_error("%s: more than %d labels", path, MODEL_MAX_CLASSES);
            rc = -1;
            break;
        }
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1024;
            d->ex = realloc(d->ex, d->cap * sizeof(*d->ex));
            d->titles = realloc(d->titles, d->cap * sizeof(char *));
            d->bodies = realloc(d->bodies, d->cap * sizeof(char *));
        }
        d->titles[d->n] = strdup(rec.field[ct]);
        d->bodies[d->n] = strdup(rec.field[cb]);
        d->ex[d->n] = (model_example_t){d->titles[d->n], d->bodies[d->n], k};
        d->n++;
    }
    csv_close(&r);
    fclose(f);
    if (rc < 0) {
        cli_error("%s: %s", path, err);
        return EXIT_USAGE;
    }
    if (d->n == 0 || d->nclasses < 2) {
        cli_error("%s: needs labelled rows of at least two labels", path);
        return EXIT_USAGE;
    }
    return 0;
}

static void unload(dataset_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->titles[i]);
        free(d->bodies[i]);
    }
    free(d->titles);
    free(d->bodies);
    free(d->ex);
}

static const char *const *name_list(const dataset_t *d, const char **out)
{
    for (int k = 0; k < d->nclasses; k++)
        out[k] = d->names[k];
    return out;
}

/* Prints the per-class table and returns the macro F1. */
static double report(const dataset_t *d, const int *pred, const char *what)
{
    printf("%s: %zu issues\n%-16s %9s %9s %9s %8s\n", what, d->n, "class", "precision", "recall", "f1", "support");
    double macro_p = 0, macro_r = 0, macro_f = 0;
    for (int k = 0; k < d->nclasses; k++) {
        long tp = 0, fp = 0, fn = 0;
        for (size_t i = 0; i < d->n; i++) {
            tp += pred[i] == k && d->ex[i].label == k;
            fp += pred[i] == k && d->ex[i].label != k;
            fn += pred[i] != k && d->ex[i].label == k;
        }
        double p = tp + fp ? (double)tp / (double)(tp + fp) : 0, r = tp + fn ? (double)tp / (double)(tp + fn) : 0;
        double f = p + r > 0 ? 2 * p * r / (p + r) : 0;
        printf("%-16s %9.4f %9.4f %9.4f %8ld\n", d->names[k], p, r, f, tp + fn);
        macro_p += p / d->nclasses;
        macro_r += r / d->nclasses;
        macro_f += f / d->nclasses;
    }
    printf("%-16s %9.4f %9.4f %9.4f %8zu\n", "macro avg", macro_p, macro_r, macro_f, d->n);
    return macro_f;
}

int cmd_train(int argc, char **argv)
{
    const char *csv = NULL, *out = NULL;
    double c = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(TRAIN_USAGE, stdout);
            return 0;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--c") == 0 && i + 1 < argc) {
            c = atof(argv[++i]);
        } else if (argv[i][0] != '-' && csv == NULL) {
            csv = argv[i];
        } else {
            cli_error("train: unexpected argument '%s'\n%s", argv[i], TRAIN_USAGE);
            return EXIT_USAGE;
        }
    }
    if (csv == NULL || out == NULL || c <= 0) {
        cli_error("train: needs CSV and -o MODEL (and --c above 0)\n%s", TRAIN_USAGE);
        return EXIT_USAGE;
    }
    dataset_t d;
    int rc = load(csv, &d);
    if (rc != 0)
        return rc;
    const char *names[MODEL_MAX_CLASSES];
    clock_t t0 = clock();
    model_t *m = model_train(d.ex, d.n, name_list(&d, names), d.nclasses, c);
    char err[256];
    rc = model_save(m, out, err, sizeof(err)) == 0 ? 0 : 1;
    if (rc == 0)
        printf("trained on %zu issues (%d classes) in %.1f s: %s\n", d.n, d.nclasses,
               (double)(clock() - t0) / CLOCKS_PER_SEC, out);
    else
        cli_error("train: %s", err);
    model_free(m);
    unload(&d);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *csv = NULL, *path = NULL;
    int folds = 0;
    double c = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(EVAL_USAGE, stdout);
            return 0;
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--cv") == 0 && i + 1 < argc) {
            folds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--c") == 0 && i + 1 < argc) {
            c = atof(argv[++i]);
        } else if (argv[i][0] != '-' && csv == NULL) {
            csv = argv[i];
        } else {
            cli_error("eval: unexpected argument '%s'\n%s", argv[i], EVAL_USAGE);
            return EXIT_USAGE;
        }
    }
    if (csv == NULL || (folds != 0 && folds < 2) || c <= 0) {
        cli_error("eval: needs CSV (and --cv of 2 or more)\n%s", EVAL_USAGE);
        return EXIT_USAGE;
    }
    config_t cfg;
    char err[256];
    if (path == NULL) {
        if (config_load(&cfg, NULL, err, sizeof(err)) != 0) {
            cli_error("%s", err);
            return EXIT_USAGE;
        }
    }
    dataset_t d;
    int rc = load(csv, &d);
    if (rc != 0)
        return rc;
    int *pred = malloc(d.n * sizeof(int));
    model_vec_t v;
    model_vec_init(&v);
    const char *names[MODEL_MAX_CLASSES];
    name_list(&d, names);
    if (folds > 0) {
        /* Stratified: each class's issues dealt round-robin to the folds. */
        int *fold = malloc(d.n * sizeof(int));
        int next[MODEL_MAX_CLASSES] = {0};
        for (size_t i = 0; i < d.n; i++)
            fold[i] = next[d.ex[i].label]++ % folds;
        model_example_t *train = malloc(d.n * sizeof(*train));
        for (int f = 0; f < folds; f++) {
            size_t nt = 0;
            for (size_t i = 0; i < d.n; i++)
                if (fold[i] != f)
                    train[nt++] = d.ex[i];
            model_t *m = model_train(train, nt, names, d.nclasses, c);
            for (size_t i = 0; i < d.n; i++)
                if (fold[i] == f)
                    pred[i] = model_predict(m, &v, d.ex[i].title, d.ex[i].body, NULL);
            model_free(m);
        }
        free(train);
        free(fold);
        char what[64];
        snprintf(what, sizeof(what), "%d-fold cross-validation", folds);
        report(&d, pred, what);
    } else {
        const char *mp = path ? path : cfg.model_file;
        model_t *m = model_load(mp, err, sizeof(err));
        if (m == NULL) {
            cli_error("eval: %s", err);
            rc = 1;
        } else {
            /* The model's class order may differ from the file's. */
            for (size_t i = 0; i < d.n; i++) {
                int k = model_predict(m, &v, d.ex[i].title, d.ex[i].body, NULL);
                pred[i] = -1;
                for (int j = 0; j < d.nclasses; j++)
                    if (strcmp(d.names[j], m->classes[k]) == 0)
                        pred[i] = j;
            }
            report(&d, pred, mp);
            model_free(m);
        }
    }
    if (path == NULL)
        config_free(&cfg);
    model_vec_free(&v);
    free(pred);
    unload(&d);
    return rc;
}
