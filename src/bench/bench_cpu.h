/*
 * bench_cpu.h -- CPU time the processes of a benchmark spent, from /proc,
 * so a figure per event can be given for each side: one process, a server
 * and its children (PostgreSQL: the postmaster, its live backends, and the
 * ones that exited, through the postmaster's reaped-children times), and a
 * process found by its command line (the broker).
 */
#ifndef DISPATCHD_BENCH_CPU_H
#define DISPATCHD_BENCH_CPU_H

#include <libpq-fe.h>
#include <sys/types.h>

/* User + system seconds of pid (0: this process), with its reaped
 * children's when children is set; -1 if unreadable. */
double bench_cpu_s(pid_t pid, int children);
/* Of parent, every live process whose parent it is, and the children it
 * reaped; -1 if unreadable. */
double bench_cpu_tree_s(pid_t parent);
/* The first process whose command line contains needle, or 0. */
pid_t bench_find_process(const char *needle);
/* The server process of c's PostgreSQL (its backend's parent), or 0. */
pid_t bench_pg_postmaster(PGconn *c);
/* The server's WAL position in bytes, or -1. */
double bench_pg_wal_bytes(PGconn *c);

#endif
