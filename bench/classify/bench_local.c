/*
 * bench_local -- the local classifier's inference rate on one core: every
 * issue of a CSV (label,title,body columns) classified in turn, repeated
 * for at least two seconds, against the 20,000 issues/s per core target.
 *
 *   bench_local MODEL CSV
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv.h"
#include "local.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_local MODEL CSV\n");
        return 2;
    }
    char err[256];
    model_t *m = model_load(argv[1], err, sizeof(err));
    if (m == NULL) {
        fprintf(stderr, "bench_local: %s\n", err);
        return 1;
    }
    FILE *f = fopen(argv[2], "r");
    if (f == NULL) {
        perror(argv[2]);
        return 1;
    }
    csv_reader_t r;
    csv_open(&r, f);
    csv_record_t rec;
    char **titles = NULL, **bodies = NULL;
    size_t n = 0, cap = 0;
    int ct = -1, cb = -1;
    if (csv_read(&r, &rec, err, sizeof(err)) == 1) {
        ct = csv_column(&rec, "title");
        cb = csv_column(&rec, "body");
    }
    while (ct >= 0 && cb >= 0 && csv_read(&r, &rec, err, sizeof(err)) == 1) {
        if (rec.n <= (ct > cb ? ct : cb))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            titles = realloc(titles, cap * sizeof(char *));
            bodies = realloc(bodies, cap * sizeof(char *));
        }
        titles[n] = strdup(rec.field[ct]);
        bodies[n++] = strdup(rec.field[cb]);
    }
    csv_close(&r);
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "bench_local: no issues in %s\n", argv[2]);
        return 1;
    }
    model_vec_t v;
    model_vec_init(&v);
    classification_t c;
    long done = 0;
    double t0 = now_s(), t;
    do {
        for (size_t i = 0; i < n; i++) {
            cls_input_t in = {titles[i], bodies[i], NULL};
            classify_local(m, &v, &in, &c);
        }
        done += (long)n;
        t = now_s() - t0;
    } while (t < 2.0);
    double rate = (double)done / t;
    printf("%.0f %zu\n", rate, n);
    for (size_t i = 0; i < n; i++) {
        free(titles[i]);
        free(bodies[i]);
    }
    free(titles);
    free(bodies);
    model_vec_free(&v);
    model_free(m);
    return 0;
}
