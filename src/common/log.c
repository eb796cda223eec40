#include "log.h"
#include "timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

    /* One write per line so concurrent threads never interleave. */
    fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\",\"msg\":\"%s\"}\n",
            ts, names[level], component, esc);
}
