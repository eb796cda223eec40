/* savina.h -- the Savina benchmarks on dispatchd's runtime (savina.c). */
#ifndef DISPATCHD_SAVINA_H
#define DISPATCHD_SAVINA_H

/* The benchmarks' names, NULL-terminated. */
extern const char *const savina_names[];

/* Runs NAME on a fresh runtime of THREADS threads: the messages it sent,
 * with the time taken in *seconds; -1 for an unknown name. */
long savina_run(const char *name, int threads, double *seconds);

#endif
