/*
 * bench_util.h -- what the `dispatchd bench` suites share: clocks, peak
 * memory, flags, and running a program to read what it prints (the suites
 * measure dispatchd and its peers each in a process of their own, so one's
 * memory or threads never weigh on the other).
 */
#ifndef DISPATCHD_BENCH_UTIL_H
#define DISPATCHD_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

double bench_now_s(void);

/* A process's peak resident memory in KiB (VmHWM; pid 0: this one), or -1. */
long bench_peak_rss_kb(pid_t pid);
/* Its resident memory now (VmRSS) in KiB, or -1. */
long bench_rss_kb(pid_t pid);

/* This program's own path, to run a part of a suite in a fresh process. */
const char *bench_self_exe(void);

/* Runs argv[0] (a path) with argv, waits, and keeps up to outlen-1 bytes
 * of its standard output in out; its standard error goes to errpath
 * (NULL: this one's). Its exit status, or -1 if it could not run or was
 * killed. */
int bench_capture(char *const argv[], char *out, size_t outlen, const char *errpath);

/* Starts argv[0] with argv, its standard output a pipe read through *fd
 * (its standard error: this one's). 0, or -1. */
int bench_spawn_reader(char *const argv[], pid_t *pid, int *fd);

/* One line from fd (without its newline) within timeout_s: 0, or -1 at
 * the end or on timeout. Reads a byte at a time: for a few short lines. */
int bench_read_line(int fd, char *line, size_t len, double timeout_s);

/* Parses a flag's number within [min, max]; 0, or -1 after saying why
 * (prefixed with what, e.g. "bench runtime"). */
int bench_flag_number(const char *what, const char *flag, const char *v, double min, double max, double *out);

/* True (after printing USAGE) when argv asks for --help. */
bool bench_wants_help(int argc, char **argv, const char *usage);

/* The sum of a Prometheus text page's samples of SERIES: a bare name sums
 * every label set, a name with {labels} only that one; -1 when absent. */
double bench_metrics_sum(const char *page, const char *series);

/* A libcurl write callback appending to the strbuf_t given as its data. */
size_t bench_to_sb(char *p, size_t size, size_t n, void *sb);

/* The median of n values (sorts them). */
double bench_median(double *v, int n);

/* Reads "key=value" from a line such as the Savina programs print. */
bool bench_kv(const char *line, const char *key, double *out);

#endif
