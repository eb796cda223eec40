/* dataset.c -- see dataset.h. */
#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "csv.h"



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

int dataset_load(const char *path, dataset_t *d)
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
        cb = rc == 1 ? csv_column(&rec, "body") : -1, cr = rc == 1 ? csv_column(&rec, "repo") : -1;
    if (cl < 0 || ct < 0 || cb < 0) {
        cli_error("%s: the header must name the columns label, title and body", path);
        csv_close(&r);
        fclose(f);
        return EXIT_USAGE;
    }
    while ((rc = csv_read(&r, &rec, err, sizeof(err))) == 1) {
        int need = cl > ct ? cl : ct;
        need = need > cb ? need : cb;
        if (rec.n == 1 && rec.field[0][0] == '\0')
            continue;   /* a blank line */
        if (rec.n <= need || rec.field[cl][0] == '\0') {
            snprintf(err, sizeof(err), "line %ld: %s", rec.line,
                     rec.n <= need ? "fewer fields than the header's label, title and body" : "an empty label");
            rc = -1;
            break;
        }
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
            d->repos = realloc(d->repos, d->cap * sizeof(char *));
        }
        d->titles[d->n] = strdup(rec.field[ct]);
        d->bodies[d->n] = strdup(rec.field[cb]);
        d->repos[d->n] = cr >= 0 && cr < (int)rec.n && rec.field[cr][0] ? strdup(rec.field[cr]) : NULL;
        d->ex[d->n] = (model_example_t){{d->repos[d->n], d->titles[d->n], d->bodies[d->n]}, k};
        d->n++;
    }
    csv_close(&r);
    fclose(f);
    if (rc < 0) {
        cli_error("%s: %s", path, err);
        dataset_free(d);
        return EXIT_USAGE;
    }
    if (d->n == 0 || d->nclasses < 2) {
        cli_error("%s: needs labelled rows of at least two labels", path);
        dataset_free(d);
        return EXIT_USAGE;
    }
    return 0;
}

void dataset_free(dataset_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->titles[i]);
        free(d->bodies[i]);
        free(d->repos[i]);
    }
    free(d->titles);
    free(d->bodies);
    free(d->repos);
    free(d->ex);
    memset(d, 0, sizeof(*d));
}

const char *const *dataset_names(const dataset_t *d, const char **out)
{
    for (int k = 0; k < d->nclasses; k++)
        out[k] = d->names[k];
    return out;
}

