/*
 * status_viewers.c -- the client side of make bench-status: COUNT
 * status-page viewers on one epoll loop, so the viewers take next to no
 * CPU from the pipeline they watch. Each viewer holds GET
 * /api/status/stream open (counting the documents pushed) and, on a
 * keep-alive connection of its own, asks GET /api/status every second
 * (timed to its last byte) and every fifth second GET / after it (timed
 * to its first byte). They
 * may start before dispatchd: each connects as soon as the port answers.
 * Runs until the file STOP exists, then prints one JSON line.
 *
 *   status_viewers PORT COUNT STOP
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_VIEWERS 1000
#define MAX_SAMPLES 200000
#define EVENT "event: status"

typedef struct conn {
    int fd;
    bool stream;
    int viewer;
    /* a poller's request in flight */
    bool busy, page;              /* a request in flight; GET / (else /api/status) */
    double sent, first;
    char buf[65536];
    size_t len;
    uint64_t next_ms;             /* when its next request goes */
    int n;                        /* GET /api/status asked */
    char tail[sizeof(EVENT)];     /* a stream's last bytes: a match cut in two */
    size_t tail_len;
} conn_t;

static double status_ms[MAX_SAMPLES], page_ms[MAX_SAMPLES];
static int nstatus, npage, errors;
static long pushed[MAX_VIEWERS];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int dial(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < 600; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            return fd;
        }
        close(fd);
        usleep(50000);
    }
    fprintf(stderr, "status_viewers: nothing listens on port %d\n", port);
    exit(1);
}

static void send_all(int fd, const char *s)
{
    size_t n = strlen(s);
    if (write(fd, s, n) != (ssize_t)n) {
        errors++;
    }
}

/* GET /api/status each second; every fifth, GET / right after it. */
static void ask(conn_t *c, bool page)
{
    c->page = page;
    c->busy = true;
    c->len = 0;
    c->first = 0;
    c->sent = now_ms();
    send_all(c->fd, page ? "GET / HTTP/1.1\r\nHost: x\r\n\r\n" : "GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n");
    if (!page) {
        c->n++;
        c->next_ms += 1000;
    }
}

/* A whole response in c->buf: its status checked, its time noted. */
static void answered(conn_t *c)
{
    if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0 && strstr(c->buf, "\"starting\"") == NULL)
        errors++;   /* (before its first snapshot dispatchd answers 503 starting: not an error) */
    if (c->page) {
        if (npage < MAX_SAMPLES)
            page_ms[npage++] = c->first - c->sent;
    } else if (nstatus < MAX_SAMPLES) {
        status_ms[nstatus++] = now_ms() - c->sent;
    }
    c->busy = false;
    c->len = 0;
    if (!c->page && c->n % 5 == 1)
        ask(c, true);
}

static void on_poll_readable(conn_t *c)
{
    ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);
    if (r <= 0) {
        errors++;
        c->busy = false;
        return;
    }
    if (c->first == 0)
        c->first = now_ms();
    c->len += (size_t)r;
    c->buf[c->len] = '\0';
    char *end = strstr(c->buf, "\r\n\r\n");
    char *cl = strcasestr(c->buf, "content-length:");
    if (end != NULL && cl != NULL && c->len >= (size_t)(end + 4 - c->buf) + strtoul(cl + 15, NULL, 10))
        answered(c);
}

static void on_stream_readable(conn_t *c)
{
    ssize_t r = read(c->fd, c->buf + c->tail_len, sizeof(c->buf) - c->tail_len - 1);
    if (r <= 0) {
        errors++;
        close(c->fd);
        c->fd = -1;
        return;
    }
    memcpy(c->buf, c->tail, c->tail_len);
    size_t n = c->tail_len + (size_t)r;
    c->buf[n] = '\0';
    for (char *p = c->buf; (p = memmem(p, (size_t)(c->buf + n - p), EVENT, strlen(EVENT))) != NULL; p++)
        pushed[c->viewer]++;
    c->tail_len = n < strlen(EVENT) - 1 ? n : strlen(EVENT) - 1;
    memcpy(c->tail, c->buf + n - c->tail_len, c->tail_len);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double p99(double *v, int n)
{
    if (n == 0)
        return -1;
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return v[(int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1];
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: status_viewers PORT COUNT STOP\n");
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    const char *stop = argv[3];
    if (count < 1 || count > MAX_VIEWERS)
        return 2;
    int ep = epoll_create1(0);
    conn_t *conns = calloc((size_t)count * 2, sizeof(*conns));
    uint64_t start = (uint64_t)now_ms();
    for (int i = 0; i < count * 2; i++) {
        conn_t *c = &conns[i];
        c->viewer = i % count;
        c->stream = i >= count;
        c->fd = dial(port);
        c->next_ms = start + (uint64_t)(1000 * c->viewer / count);   /* spread over the second */
        if (c->stream)
            send_all(c->fd, "GET /api/status/stream HTTP/1.1\r\nHost: x\r\n\r\n");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    double checked = 0;
    for (;;) {
        double t = now_ms();
        if (t - checked >= 200) {
            checked = t;
            if (access(stop, F_OK) == 0)
                break;
        }
        for (int i = 0; i < count; i++) {
            conn_t *c = &conns[i];
            if (!c->busy && (uint64_t)t >= c->next_ms)
                ask(c, false);
        }
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 20);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (c->stream)
                on_stream_readable(c);
            else
                on_poll_readable(c);
        }
    }
    long least = pushed[0];
    for (int i = 1; i < count; i++)
        least = pushed[i] < least ? pushed[i] : least;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    int ns = nstatus, np = npage;
    printf("{\"viewers\": %d, \"status_requests\": %d, \"api_status_p99_ms\": %.2f, \"page_loads\": %d, "
           "\"ttfb_p99_ms\": %.2f, \"pushed_min\": %ld, \"error_count\": %d, \"cpu_s\": %.3f}\n",
           count, ns, p99(status_ms, ns), np, p99(page_ms, np), least, errors, cpu);
    return 0;
}
