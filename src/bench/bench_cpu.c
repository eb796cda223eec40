/* bench_cpu.c -- see bench_cpu.h. */
#include "bench_cpu.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct proc_stat {
    pid_t ppid;
    unsigned long long utime, stime, cutime, cstime;   /* clock ticks */
} proc_stat_t;

static int read_stat(pid_t pid, proc_stat_t *st)
{
    char path[64], buf[1024];
    if (pid == 0)
        snprintf(path, sizeof(path), "/proc/self/stat");
    else
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields start after
     * the last ')'. */
    const char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    int ppid;
    char state;
    unsigned long long skip;
    if (sscanf(p + 2, "%c %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &state, &ppid,
               &skip, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &st->utime, &st->stime,
               &st->cutime, &st->cstime) != 15)
        return -1;
    st->ppid = ppid;
    return 0;
}

static double ticks_s(unsigned long long t)
{
    return (double)t / (double)sysconf(_SC_CLK_TCK);
}

double bench_cpu_s(pid_t pid, int children)
{
    proc_stat_t st;
    if (read_stat(pid, &st) != 0)
        return -1;
    return ticks_s(st.utime + st.stime + (children ? st.cutime + st.cstime : 0));
}

/* Calls fn for every process listed in /proc. */
static void each_process(void (*fn)(pid_t pid, void *ctx), void *ctx)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end == '\0' && pid > 0)
            fn((pid_t)pid, ctx);
    }
    closedir(d);
}

typedef struct tree_sum {
    pid_t parent;
    unsigned long long ticks;
} tree_sum_t;

static void add_child(pid_t pid, void *ctx)
{
    tree_sum_t *t = ctx;
    proc_stat_t st;
    if (read_stat(pid, &st) == 0 && st.ppid == t->parent)
        t->ticks += st.utime + st.stime;
}

double bench_cpu_tree_s(pid_t parent)
{
    proc_stat_t st;
    if (parent <= 0 || read_stat(parent, &st) != 0)
        return -1;
    tree_sum_t t = {.parent = parent, .ticks = st.utime + st.stime + st.cutime + st.cstime};
    each_process(add_child, &t);
    return ticks_s(t.ticks);
}

typedef struct find {
    const char *needle;
    pid_t found;
} find_t;

static void match_cmdline(pid_t pid, void *ctx)
{
    find_t *f = ctx;
    if (f->found != 0 || pid == getpid())
        return;
    char path[64], buf[8192];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    for (size_t i = 0; i < n; i++)   /* arguments are NUL-separated */
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    if (strstr(buf, f->needle) != NULL)
        f->found = pid;
}

pid_t bench_find_process(const char *needle)
{
    find_t f = {.needle = needle};
    each_process(match_cmdline, &f);
    return f.found;
}

static double scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    double v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        v = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return v;
}

pid_t bench_pg_postmaster(PGconn *c)
{
    proc_stat_t st;
    int backend = PQbackendPID(c);
    return backend > 0 && read_stat(backend, &st) == 0 ? st.ppid : 0;
}

double bench_pg_wal_bytes(PGconn *c)
{
    return scalar(c, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
}
