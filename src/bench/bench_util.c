/* bench_util.c -- see bench_util.h. */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "strbuf.h"

extern char **environ;

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One "Name: N kB" line of /proc/PID/status. */
static long status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), pid ? "/proc/%d/status" : "/proc/self/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            kb = atol(line + fl + 1);
            break;
        }
    if (f)
        fclose(f);
    return kb;
}

long bench_peak_rss_kb(pid_t pid)
{
    return status_kb(pid, "VmHWM");
}

long bench_rss_kb(pid_t pid)
{
    return status_kb(pid, "VmRSS");
}

const char *bench_self_exe(void)
{
    static char path[PATH_MAX];
    if (path[0] == '\0') {
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n <= 0)
            return "/proc/self/exe";
        path[n] = '\0';
    }
    return path;
}

int bench_capture(char *const argv[], char *out, size_t outlen, const char *errpath)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    if (errpath != NULL)
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        errno = rc;
        return -1;
    }
    size_t len = 0;
    for (;;) {
        char tmp[4096];
        ssize_t n = read(fd[0], tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t keep = (size_t)n < outlen - 1 - len ? (size_t)n : outlen - 1 - len;
        memcpy(out + len, tmp, keep);
        len += keep;
    }
    out[len] = '\0';
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int bench_flag_number(const char *what, const char *flag, const char *v, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double d = v ? strtod(v, &end) : 0;
    if (v == NULL || errno || end == v || *end || !(d >= min && d <= max)) {
        cli_error("%s: %s: a number from %g to %g, not '%.40s'", what, flag, min, max, v ? v : "");
        return -1;
    }
    *out = d;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool bench_kv(const char *line, const char *key, double *out)
{
    size_t kl = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl)
        if ((p == line || p[-1] == ' ' || p[-1] == '\n') && p[kl] == '=') {
            char *end;
            *out = strtod(p + kl + 1, &end);
            return end != p + kl + 1;
        }
    return false;
}

bool bench_wants_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) {
            printf("%s", usage);
            return true;
        }
    return false;
}

int bench_spawn_reader(char *const argv[], pid_t *pid, int *fd)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    int rc = posix_spawn(pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return -1;
    }
    *fd = p[0];
    return 0;
}

int bench_read_line(int fd, char *line, size_t len, double timeout_s)
{
    double until = bench_now_s() + timeout_s;
    size_t n = 0;
    while (n + 1 < len) {
        int left_ms = (int)((until - bench_now_s()) * 1000);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left_ms <= 0 || poll(&pfd, 1, left_ms) <= 0)
            return -1;
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r <= 0)
            return -1;
        if (ch == '\n')
            break;
        line[n++] = ch;
    }
    line[n] = '\0';
    return 0;
}

double bench_metrics_sum(const char *page, const char *series)
{
    double sum = -1;
    size_t sl = strlen(series);
    bool labelled = strchr(series, '{') != NULL;
    for (const char *l = page; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, series, sl) == 0 && (l[sl] == ' ' || (!labelled && l[sl] == '{'))) {
            const char *end = strchr(l, '\n'), *v = end ? end : l + strlen(l);
            while (v > l && v[-1] != ' ')
                v--;
            sum = (sum < 0 ? 0 : sum) + strtod(v, NULL);
        }
    return sum;
}

size_t bench_to_sb(char *p, size_t size, size_t n, void *sb)
{
    sb_append((strbuf_t *)sb, p, size * n);
    return size * n;
}
