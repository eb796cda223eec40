/* event_text.c -- see event_text.h. Token offsets come from jsmn, which
 * finds them without copying or unescaping anything. */
#include "event_text.h"

#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#include <jsmn.h>

#define STACK_TOKENS 1024

/* The token after token i's whole value. */
static int next_sibling(const jsmntok_t *t, int n, int i)
{
    int j = i + 1;
    if (t[i].type == JSMN_OBJECT || t[i].type == JSMN_ARRAY)
        while (j < n && t[j].start < t[i].end)
            j++;
    return j;
}

static int key_is(const char *raw, const jsmntok_t *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == JSMN_STRING && (size_t)(k->end - k->start) == n && memcmp(raw + k->start, name, n) == 0;
}

/* The member key..value as bytes: a string's quotes included. */
static int member_from(const jsmntok_t *key)
{
    return key->start - 1;
}

static int member_to(const jsmntok_t *value)
{
    return value->type == JSMN_STRING ? value->end + 1 : value->end;
}

static char *cut(const char *raw, size_t len, const jsmntok_t *t, int n, size_t *outlen)
{
    if (n < 1 || t[0].type != JSMN_OBJECT)
        return NULL;
    int issue = -1;
    for (int k = 1, m = 0; k < n && m < t[0].size; k = next_sibling(t, n, k + 1), m++)
        if (key_is(raw, &t[k], "issue") && k + 1 < n && t[k + 1].type == JSMN_OBJECT)
            issue = k + 1;
    if (issue < 0)
        return NULL;
    char *out = malloc(len + 1);
    if (out == NULL)
        abort();
    size_t o = (size_t)t[issue].start + 1;   /* up to and with the issue's '{' */
    memcpy(out, raw, o);
    int written = 0;
    for (int k = issue + 1, m = 0; k < n && m < t[issue].size; m++) {
        int v = k + 1, after = next_sibling(t, n, v);
        int drop = key_is(raw, &t[k], "title") || (key_is(raw, &t[k], "body") && t[v].type == JSMN_STRING);
        if (!drop) {
            if (written++)
                out[o++] = ',';
            size_t from = (size_t)member_from(&t[k]), to = (size_t)member_to(&t[v]);
            memcpy(out + o, raw + from, to - from);
            o += to - from;
        }
        k = after;
    }
    size_t rest = (size_t)t[issue].end - 1;   /* from the issue's '}' on */
    memcpy(out + o, raw + rest, len - rest);
    o += len - rest;
    out[o] = '\0';
    *outlen = o;
    return out;
}

char *event_without_text(const char *raw, size_t len, size_t *outlen)
{
    jsmn_parser p;
    jsmntok_t stack[STACK_TOKENS], *t = stack;
    jsmn_init(&p);
    int n = jsmn_parse(&p, raw, len, t, STACK_TOKENS);
    if (n == JSMN_ERROR_NOMEM) {
        jsmn_init(&p);
        int need = jsmn_parse(&p, raw, len, NULL, 0);
        if (need <= 0)
            return NULL;
        if ((t = malloc((size_t)need * sizeof(*t))) == NULL)
            abort();
        jsmn_init(&p);
        n = jsmn_parse(&p, raw, len, t, (unsigned)need);
    }
    char *out = n > 0 ? cut(raw, len, t, n, outlen) : NULL;
    if (t != stack)
        free(t);
    return out;
}
