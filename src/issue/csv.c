#include "csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void csv_open(csv_reader_t *r, FILE *f)
{
    memset(r, 0, sizeof(*r));
    r->f = f;
    r->line = 1;
}

void csv_close(csv_reader_t *r)
{
    free(r->buf);
    r->buf = NULL;
}

static void put(csv_reader_t *r, size_t *len, char c)
{
    if (*len + 1 >= r->cap) {
        r->cap = r->cap ? r->cap * 2 : 65536;
        r->buf = realloc(r->buf, r->cap);
        if (r->buf == NULL)
            abort();
    }
    r->buf[(*len)++] = c;
}

int csv_read(csv_reader_t *r, csv_record_t *rec, char *err, size_t errlen)
{
    size_t len = 0;
    size_t starts[CSV_MAX_FIELDS];
    int n = 0;
    bool quoted = false, any = false;
    starts[n++] = 0;
    int c;
    long first_line = r->line;
    rec->line = first_line;
    for (;;) {
        c = fgetc(r->f);
        if (c == EOF) {
            if (quoted) {
                snprintf(err, errlen, "line %ld: a quoted field never ends", first_line);
                return -1;
            }
            if (!any)
                return 0;
            break;
        }
        any = true;
        if (quoted) {
            if (c == '"') {
                int d = fgetc(r->f);
                if (d == '"') {
                    put(r, &len, '"');
                } else {
                    quoted = false;
                    if (d != EOF)
                        ungetc(d, r->f);
                }
            } else {
                if (c == '\n')
                    r->line++;
                put(r, &len, (char)c);
            }
            continue;
        }
        if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            put(r, &len, '\0');
            if (n == CSV_MAX_FIELDS) {
                snprintf(err, errlen, "line %ld: more than %d fields", first_line, CSV_MAX_FIELDS);
                return -1;
            }
            starts[n++] = len;
        } else if (c == '\n') {
            r->line++;
            break;
        } else if (c != '\r') {
            put(r, &len, (char)c);
        }
    }
    put(r, &len, '\0');
    for (int i = 0; i < n; i++)
        rec->field[i] = r->buf + starts[i];
    rec->n = n;
    return 1;
}

int csv_column(const csv_record_t *header, const char *name)
{
    for (int i = 0; i < header->n; i++)
        if (strcmp(header->field[i], name) == 0)
            return i;
    return -1;
}
