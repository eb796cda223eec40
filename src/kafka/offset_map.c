#include "offset_map.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "dd1:"
#define OFFSET_MAP_MAX_OFFSET ((int64_t)1 << 62)

void offset_map_init(offset_map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void offset_map_free(offset_map_t *m)
{
    free(m->runs);
    offset_map_init(m);
}

void offset_map_clear(offset_map_t *m)
{
    m->n = 0;
}

static void push_run(offset_map_t *m, int64_t start, int64_t len)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->runs = realloc(m->runs, m->cap * sizeof(*m->runs));
        if (m->runs == NULL)
            abort();
    }
    m->runs[m->n++] = (offset_run_t){start, len};
}

void offset_map_add(offset_map_t *m, int64_t offset)
{
    if (m->n > 0) {
        offset_run_t *last = &m->runs[m->n - 1];
        if (offset == last->start + last->len) {
            last->len++;
            return;
        }
    }
    push_run(m, offset, 1);
}

bool offset_map_contains(const offset_map_t *m, int64_t offset)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const offset_run_t *r = &m->runs[mid];
        if (offset < r->start)
            hi = mid;
        else if (offset >= r->start + r->len)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

int offset_map_encode(const offset_map_t *m, int64_t commit, char *out, size_t cap)
{
    size_t o = 0;
    int n = snprintf(out, cap, PREFIX);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    o = (size_t)n;
    int64_t prev_end = commit;
    for (size_t i = 0; i < m->n; i++) {
        n = snprintf(out + o, cap - o, "%s%lld+%lld", i ? "," : "", (long long)(m->runs[i].start - prev_end),
                     (long long)m->runs[i].len);
        if (n < 0 || (size_t)n >= cap - o)
            return -1;
        o += (size_t)n;
        prev_end = m->runs[i].start + m->runs[i].len;
    }
    return (int)o;
}

int offset_map_decode(offset_map_t *m, int64_t commit, const char *meta)
{
    offset_map_clear(m);
    if (meta == NULL || strncmp(meta, PREFIX, strlen(PREFIX)) != 0)
        return 0;
    const char *p = meta + strlen(PREFIX);
    int64_t prev_end = commit;
    while (*p) {
        char *end;
        errno = 0;
        long long gap = strtoll(p, &end, 10);
        if (errno || end == p || *end != '+' || gap < 0)
            goto bad;
        p = end + 1;
        long long len = strtoll(p, &end, 10);
        if (errno || end == p || len <= 0 || (*end != ',' && *end != '\0'))
            goto bad;
        /* Offsets stay far below 2^62: anything beyond is not ours. */
        if (gap > OFFSET_MAP_MAX_OFFSET - prev_end || len > OFFSET_MAP_MAX_OFFSET - prev_end - gap)
            goto bad;
        push_run(m, prev_end + gap, len);
        prev_end += gap + len;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
bad:
    offset_map_clear(m);
    return -1;
}
