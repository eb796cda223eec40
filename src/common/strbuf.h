/* strbuf.h -- a growable byte buffer for building text responses. */
#ifndef DISPATCHD_STRBUF_H
#define DISPATCHD_STRBUF_H

#include <stddef.h>

typedef struct strbuf {
    char *data;
    size_t len, cap;
} strbuf_t;

void sb_init(strbuf_t *sb);
void sb_free(strbuf_t *sb);
void sb_append(strbuf_t *sb, const char *s, size_t n);
void sb_puts(strbuf_t *sb, const char *s);
void sb_printf(strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
