/*
 * train.c -- `dispatchd train CSV -o MODEL`: the local classifier
 * (model.h) from a CSV of labelled issues (dataset.h). Deterministic: the
 * same file gives the same model, byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "csv.h"
#include "dataset.h"
#include "model.h"

static const char *TRAIN_USAGE = "usage: dispatchd train CSV -o MODEL [--c C]\n";

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
    int rc = dataset_load(csv, &d);
    if (rc != 0)
        return rc;
    const char *names[MODEL_MAX_CLASSES];
    clock_t t0 = clock();
    model_t *m = model_train(d.ex, d.n, dataset_names(&d, names), d.nclasses, c);
    char err[256];
    rc = model_save(m, out, err, sizeof(err)) == 0 ? 0 : 1;
    if (rc == 0)
        printf("trained on %zu issues (%d classes) in %.1f s: %s\n", d.n, d.nclasses,
               (double)(clock() - t0) / CLOCKS_PER_SEC, out);
    else
        cli_error("train: %s", err);
    model_free(m);
    dataset_free(&d);
    return rc;
}

