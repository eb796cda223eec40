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
/* Room for extra more bytes (and the NUL) in one allocation. */
void sb_reserve(strbuf_t *sb, size_t extra);
void sb_append(strbuf_t *sb, const char *s, size_t n);
void sb_puts(strbuf_t *sb, const char *s);
void sb_printf(strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON text written directly, for the per-event documents (a jansson tree
 * built only to be dumped cost more than the rest of storing a row): s as
 * a quoted string (bytes are taken as UTF-8, as they come from parsed
 * JSON), v as a number that reads back to the same double, written as
 * jansson writes it (%.17g, a ".0" added to whole numbers). */
void sb_json_string(strbuf_t *sb, const char *s);
void sb_json_real(strbuf_t *sb, double v);

#endif
