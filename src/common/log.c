#include "log.h"
#include "timefmt.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define LOG_LINE_MAX 2304

static void emit(const char *line, size_t n);
static int current_level = LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};

int log_parse_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    if (strcmp(name, "warning") == 0)
        return LOG_WARN;
    return -1;
}

void log_set_level(enum log_level level) { __atomic_store_n(&current_level, (int)level, __ATOMIC_RELAXED); }
int log_enabled(enum log_level level) { return (int)level >= __atomic_load_n(&current_level, __ATOMIC_RELAXED); }

/* Escapes for a JSON string body; truncates rather than overflow. */
static size_t json_escape(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 7 < cap; p++) {
        switch (*p) {
        case '"': out[o++] = '\\'; out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; out[o++] = '\\'; break;
        case '\n': out[o++] = '\\'; out[o++] = 'n'; break;
        case '\t': out[o++] = '\\'; out[o++] = 't'; break;
        default:
            if (*p < 0x20)
                o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *p);
            else
                out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
    return o;
}

void log_write(enum log_level level, const char *component, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[1024], esc[2048], ts[ISO8601_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_escape(esc, sizeof(esc), msg);

    iso8601_now(ts, sizeof(ts));

    char line[LOG_LINE_MAX];
    int n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}\n",
                     ts, names[level], component, esc);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    emit(line, (size_t)n);
}

/*
 * Asynchronous mode, for `run`: actors log from scheduler threads, which must
 * never block on a slow stderr (a full pipe). Lines go into a bounded ring
 * under a mutex held only to copy them; a writer thread drains it. When the
 * ring is full a line is dropped and counted, and the count is reported as
 * soon as there is room: logs are diagnostics, never data.
 */
#define RING_LINES 4096

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool running, stop;
    char (*lines)[LOG_LINE_MAX];
    size_t len[RING_LINES];
    size_t head, count;
    unsigned long dropped;
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void emit(const char *line, size_t n)
{
    pthread_mutex_lock(&ring.lock);
    if (!ring.running) {
        pthread_mutex_unlock(&ring.lock);
        fwrite(line, 1, n, stderr);   /* synchronous mode: one write per line */
        return;
    }
    if (ring.count == RING_LINES) {
        ring.dropped++;
    } else {
        size_t slot = (ring.head + ring.count) % RING_LINES;
        memcpy(ring.lines[slot], line, n);
        ring.len[slot] = n;
        ring.count++;
        pthread_cond_signal(&ring.cond);
    }
    pthread_mutex_unlock(&ring.lock);
}

static void *writer_main(void *arg)
{
    (void)arg;
    static char out[LOG_LINE_MAX + 128];
    pthread_mutex_lock(&ring.lock);
    for (;;) {
        while (ring.count == 0 && ring.dropped == 0 && !ring.stop)
            pthread_cond_wait(&ring.cond, &ring.lock);
        if (ring.count == 0 && ring.dropped == 0 && ring.stop)
            break;
        size_t n = 0;
        if (ring.dropped > 0) {
            n = (size_t)snprintf(out, sizeof(out),
                                 "{\"level\":\"warn\",\"component\":\"log\",\"msg\":\"%lu log lines dropped: "
                                 "stderr too slow\"}\n", ring.dropped);
            ring.dropped = 0;
        } else {
            n = ring.len[ring.head];
            memcpy(out, ring.lines[ring.head], n);
            ring.head = (ring.head + 1) % RING_LINES;
            ring.count--;
        }
        pthread_mutex_unlock(&ring.lock);
        fwrite(out, 1, n, stderr);
        pthread_mutex_lock(&ring.lock);
    }
    pthread_mutex_unlock(&ring.lock);
    fflush(stderr);
    return NULL;
}

void log_start_async(void)
{
    pthread_mutex_lock(&ring.lock);
    if (!ring.running) {
        ring.lines = malloc(sizeof(*ring.lines) * RING_LINES);
        if (ring.lines != NULL && pthread_create(&ring.thread, NULL, writer_main, NULL) == 0) {
            ring.running = true;
            ring.stop = false;
        }
    }
    pthread_mutex_unlock(&ring.lock);
}

void log_stop_async(void)
{
    pthread_mutex_lock(&ring.lock);
    if (!ring.running) {
        pthread_mutex_unlock(&ring.lock);
        return;
    }
    ring.stop = true;
    pthread_cond_signal(&ring.cond);
    pthread_mutex_unlock(&ring.lock);
    pthread_join(ring.thread, NULL);
    pthread_mutex_lock(&ring.lock);
    ring.running = false;
    free(ring.lines);
    ring.lines = NULL;
    pthread_mutex_unlock(&ring.lock);
}
