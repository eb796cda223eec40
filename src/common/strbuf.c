#include "strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(strbuf_t *sb)
{
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

void sb_free(strbuf_t *sb)
{
    free(sb->data);
    sb_init(sb);
}

void sb_reserve(strbuf_t *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    sb->data = realloc(sb->data, cap);
    if (sb->data == NULL)
        abort();
    sb->cap = cap;
}

void sb_append(strbuf_t *sb, const char *s, size_t n)
{
    sb_reserve(sb, n);
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void sb_puts(strbuf_t *sb, const char *s)
{
    sb_append(sb, s, strlen(s));
}

void sb_printf(strbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sb_reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void sb_json_string(strbuf_t *sb, const char *s)
{
    sb_append(sb, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s;; p++) {
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        sb_append(sb, run, (size_t)((const char *)p - run));
        if (*p == '\0')
            break;
        char esc[8];
        switch (*p) {
        case '"': sb_append(sb, "\\\"", 2); break;
        case '\\': sb_append(sb, "\\\\", 2); break;
        case '\n': sb_append(sb, "\\n", 2); break;
        case '\r': sb_append(sb, "\\r", 2); break;
        case '\t': sb_append(sb, "\\t", 2); break;
        case '\b': sb_append(sb, "\\b", 2); break;
        case '\f': sb_append(sb, "\\f", 2); break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", *p);
            sb_append(sb, esc, 6);
        }
        run = (const char *)p + 1;
    }
    sb_append(sb, "\"", 1);
}

void sb_json_real(strbuf_t *sb, double v)
{
    if (!isfinite(v)) {
        sb_append(sb, "null", 4);   /* JSON has no such number */
        return;
    }
    char num[40];
    int n = snprintf(num, sizeof(num), "%.17g", v);
    if (strpbrk(num, ".e") == NULL)
        n += snprintf(num + n, sizeof(num) - (size_t)n, ".0");
    sb_append(sb, num, (size_t)n);
}
