/* dataset.h -- labelled issues from a CSV (columns label, title, body and,
 * when there, repo; the NLBSE'24 file's layout, other columns ignored),
 * for train and eval. */
#ifndef DISPATCHD_DATASET_H
#define DISPATCHD_DATASET_H

#include <stddef.h>

#include "model.h"

typedef struct dataset {
    model_example_t *ex;
    char **titles, **bodies, **repos;   /* repos[i] NULL without a repo column */
    size_t n, cap;
    char names[MODEL_MAX_CLASSES][32];
    int nclasses;
} dataset_t;

/* 0, or EXIT_USAGE after saying why (a bad row names its line). */
int dataset_load(const char *path, dataset_t *d);
void dataset_free(dataset_t *d);
/* The class names as a list (out: MODEL_MAX_CLASSES). */
const char *const *dataset_names(const dataset_t *d, const char **out);

#endif
