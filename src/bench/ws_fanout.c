/*
 * ws_fanout.c -- the client side of `dispatchd bench ws` (see ws_fanout.h),
 * run in a process of its own: WebSocket connections to GET /ws on one
 * epoll loop, reading every frame, timing each issue message from its
 * record time (the message's timestamp, when the classification had been
 * stored and published) to its receipt.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ws_fanout.h"

#define BUF_BYTES (64 * 1024)
#define LAT_BUCKETS 120000            /* 1 ms each, up to 2 minutes */

typedef struct conn {
    int fd;
    int upgraded;
    size_t len;
    long events;
    int closed;
    unsigned char buf[BUF_BYTES];
} conn_t;

static long lat_hist[LAT_BUCKETS];
static long delivered;
static int64_t first_event_ms = INT64_MAX, last_event_ms, first_recv_ms = INT64_MAX, last_recv_ms;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "2026-11-26T07:49:30.084Z" in ms; the date-time part cached. */
static int64_t parse_ts(const char *s)
{
    static char last[20];
    static int64_t last_s;
    if (memcmp(s, last, 19) != 0) {
        struct tm tm = {0};
        tm.tm_year = atoi(s) - 1900;
        tm.tm_mon = atoi(s + 5) - 1;
        tm.tm_mday = atoi(s + 8);
        tm.tm_hour = atoi(s + 11);
        tm.tm_min = atoi(s + 14);
        tm.tm_sec = atoi(s + 17);
        last_s = (int64_t)timegm(&tm);
        memcpy(last, s, 19);
    }
    return last_s * 1000 + atoi(s + 20);
}

static void on_message(conn_t *c, const unsigned char *p, size_t n, int64_t now)
{
    const char *type = memmem(p, n < 64 ? n : 64, "\"type\":\"", 8);
    if (type == NULL || strncmp(type + 8, "sync_", 5) == 0)
        return;
    const char *ts = memmem(p, n < 200 ? n : 200, "\"timestamp\":\"", 13);
    if (ts == NULL)
        return;
    int64_t at = parse_ts(ts + 13);
    int64_t lat = now - at;
    lat_hist[lat < 0 ? 0 : lat >= LAT_BUCKETS ? LAT_BUCKETS - 1 : lat]++;
    delivered++;
    c->events++;
    if (at < first_event_ms)
        first_event_ms = at;
    if (at > last_event_ms)
        last_event_ms = at;
    if (now < first_recv_ms)
        first_recv_ms = now;
    last_recv_ms = now;
}

static void send_pong(conn_t *c, const unsigned char *payload, size_t n)
{
    unsigned char f[2 + 4 + 125];
    f[0] = 0x8A;
    f[1] = (unsigned char)(0x80 | n);
    memset(f + 2, 0, 4);   /* a zero mask: the payload goes as is */
    memcpy(f + 6, payload, n);
    (void)!write(c->fd, f, 6 + n);
}

/* Consumes the whole frames in the buffer (messages fit one frame: the
 * server frames up to 4 KiB and issue messages are smaller). */
static void parse(conn_t *c, int64_t now)
{
    size_t off = 0;
    while (c->len - off >= 2) {
        unsigned char *p = c->buf + off;
        int op = p[0] & 0x0f;
        uint64_t plen = p[1] & 0x7f;
        size_t hdr = 2;
        if (plen == 126) {
            if (c->len - off < 4)
                break;
            plen = (uint64_t)p[2] << 8 | p[3];
            hdr = 4;
        } else if (plen == 127) {
            if (c->len - off < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | p[2 + i];
            hdr = 10;
        }
        if (c->len - off < hdr + plen)
            break;
        if (op == 1 || op == 0)
            on_message(c, p + hdr, plen, now);
        else if (op == 9 && plen <= 125)
            send_pong(c, p + hdr, plen);
        else if (op == 8)
            c->closed = 1;
        off += hdr + plen;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static int dial(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Blocking handshake, then the socket goes non-blocking. */
static void upgrade(conn_t *c, const char *host, int port, const char *token)
{
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET /ws?token=%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     token, host, port);
    if (write(c->fd, req, (size_t)n) != n) {
        perror("write");
        exit(1);
    }
    char *end = NULL;
    while (end == NULL) {
        ssize_t r = read(c->fd, c->buf + c->len, BUF_BYTES - c->len - 1);
        if (r <= 0) {
            fprintf(stderr, "bench ws: the upgrade failed\n");
            exit(1);
        }
        c->len += (size_t)r;
        c->buf[c->len] = '\0';
        end = strstr((char *)c->buf, "\r\n\r\n");
    }
    if (strncmp((char *)c->buf, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "bench ws: refused: %.*s\n", (int)strcspn((char *)c->buf, "\r"), c->buf);
        exit(1);
    }
    size_t used = (size_t)(end + 4 - (char *)c->buf);
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->upgraded = 1;
}

static long percentile(double q)
{
    long want = (long)(q * (double)delivered), seen = 0;
    for (long i = 0; i < LAT_BUCKETS; i++) {
        seen += lat_hist[i];
        if (seen > want)
            return i;
    }
    return LAT_BUCKETS;
}

int ws_fanout_run(const char *host, int port, const char *token, int nconn, long want, long timeout_s)
{
    int64_t deadline = now_ms() + timeout_s * 1000;
    conn_t *conns = calloc((size_t)nconn, sizeof(conn_t));
    int ep = epoll_create1(0);
    for (int i = 0; i < nconn; i++) {
        conns[i].fd = dial(host, port);
        upgrade(&conns[i], host, port, token);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    printf("ready\n");
    fflush(stdout);
    struct epoll_event evs[256];
    int complete = 0, closed = 0;
    while (complete + closed < nconn && now_ms() < deadline) {
        int n = epoll_wait(ep, evs, 256, 200);
        int64_t now = now_ms();
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            for (;;) {
                ssize_t r = read(c->fd, c->buf + c->len, BUF_BYTES - c->len);
                if (r > 0) {
                    c->len += (size_t)r;
                    long before = c->events;
                    parse(c, now);
                    if (before < want && c->events >= want)
                        complete++;
                    continue;
                }
                if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    if (c->events < want)
                        closed++;
                    c->closed = 1;
                }
                break;
            }
        }
    }
    printf("{\"delivered\":%ld,\"first_event_ms\":%lld,\"last_event_ms\":%lld,\"first_recv_ms\":%lld,"
           "\"last_recv_ms\":%lld,\"p50_ms\":%ld,\"p99_ms\":%ld,\"closed\":%d,\"complete\":%d}\n",
           delivered, (long long)first_event_ms, (long long)last_event_ms, (long long)first_recv_ms,
           (long long)last_recv_ms, percentile(0.5), percentile(0.99), closed, complete);
    for (int i = 0; i < nconn; i++)
        close(conns[i].fd);
    free(conns);
    return 0;
}
