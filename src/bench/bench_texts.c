/* bench_texts.c -- see bench_texts.h. */
#include "bench_texts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "event.h"
#include "issue_gen.h"

/* The length of s cut to at most max bytes, not inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

static int add(bench_texts_t *t, json_t *issue, size_t i)
{
    char err[128];
    json_t *ev = issue_event_wrap(issue, "bench", "e2e", "bench-user", err, sizeof(err));
    json_decref(issue);
    if (ev == NULL) {
        fprintf(stderr, "bench: issue %zu: %s\n", i, err);
        return -1;
    }
    issue_event_t parsed;
    t->payloads[i] = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    size_t len = strlen(t->payloads[i]);
    if (issue_event_parse(&parsed, t->payloads[i], len, 1 << 24, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench: issue %zu: %s\n", i, err);
        return -1;
    }
    char key[512];
    issue_event_key(&parsed, key, sizeof(key));
    issue_event_free(&parsed);
    t->keys[i] = strdup(key);
    t->bytes += len;
    t->n = i + 1;
    return 0;
}

int bench_texts_make(bench_texts_t *t, size_t n, const char *csv, long long id_base)
{
    memset(t, 0, sizeof(*t));
    t->payloads = calloc(n ? n : 1, sizeof(char *));
    t->keys = calloc(n ? n : 1, sizeof(char *));
    if (t->payloads == NULL || t->keys == NULL)
        abort();
    dataset_t d = {0};
    if (csv != NULL && dataset_load(csv, &d) != 0)
        return -1;
    uint64_t rng = 0x5eed;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        long long id = id_base + (long long)i;
        json_t *issue;
        if (csv != NULL && d.n > 0) {
            issue = issue_gen(&rng, id, (long)i + 1, 0);
            const char *title = d.titles[i % d.n], *body = d.bodies[i % d.n];
            json_object_set_new(issue, "title", json_stringn(title, utf8_cut(title, 256)));
            json_object_set_new(issue, "body", json_stringn(body, utf8_cut(body, BENCH_TEXTS_MAX_BODY)));
        } else {
            issue = issue_gen(&rng, id, (long)i + 1, issue_gen_body_bytes(&rng));
        }
        rc = add(t, issue, i);
    }
    if (csv != NULL)
        dataset_free(&d);
    return rc;
}

void bench_texts_free(bench_texts_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->payloads[i]);
        free(t->keys[i]);
    }
    free(t->payloads);
    free(t->keys);
    memset(t, 0, sizeof(*t));
}
