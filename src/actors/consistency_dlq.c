/*
 * consistency_dlq.c -- the DLQ's last errors in GET /api/status: asked of
 * the DLQ actor (dlq_jobs.h: a list of each partition's last records)
 * when the DLQ's end has moved since the last answer, one ask at a time,
 * so a quiet DLQ costs nothing and a busy one at most a list per refresh.
 * The answer comes back as a message to this actor; the newest
 * DLQ_RECENT records are kept, metadata only.
 */
#include <stdlib.h>
#include <string.h>

#include "consistency_internal.h"
#include "dlq_jobs.h"
#include "log.h"

#define ERROR_TEXT_MAX 300          /* an error's text as shown; the DLQ record has it whole */

typedef struct dlq_recent_msg {
    rt_msg_t hdr;
    int status;
    char *json;
} dlq_recent_msg_t;

static int64_t dlq_end(const topic_view_t *v)
{
    int64_t end = 0;
    for (int p = 0; p < v->n; p++)
        end += v->hi[p];
    return end;
}

/* On the DLQ actor's thread: handed to this actor as a message. */
static void on_answer(void *ctx, int status, const char *json)
{
    dlq_recent_msg_t *m = rt_msg_new(sizeof(*m), MSG_CONSISTENCY_DLQ_RECENT);
    m->status = status;
    m->json = strdup(json);
    if (m->json == NULL)
        abort();
    if (rt_send(ctx, m) != RT_OK) {
        free(m->json);
        rt_msg_free(m);
    }
}

void consistency_dlq_ask(consistency_state_t *s)
{
    rt_actor_t *dlq = s->env->to->dlq;
    if (dlq == NULL || s->dlq_asking || s->dlq.n <= 0 || s->kafka_error[0])
        return;
    int64_t end = dlq_end(&s->dlq);
    if (end == s->dlq_end_answered)
        return;
    dlq_request_msg_t *m = rt_msg_new(sizeof(*m), MSG_DLQ_REQUEST);
    m->kind = DLQ_LIST;
    dlq_filter_init(&m->filter);
    m->filter.tail = DLQ_RECENT;
    m->filter.limit = (long)DLQ_RECENT * s->dlq.n;
    m->reply = on_answer;
    m->ctx = s->self;
    if (rt_send(dlq, m) != RT_OK) {
        rt_msg_free(m);
        return;
    }
    s->dlq_asking = true;
    s->dlq_end_asked = end;
}

static const char *at_of(json_t *r)
{
    const char *at = json_string_value(json_object_get(r, "dlq_at"));
    return at != NULL ? at : "";
}

/* dlq_at is ISO 8601 in UTC with milliseconds: it sorts as text. */
static int newest_first(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(at_of(y), at_of(x));
    if (c != 0)
        return c;
    json_int_t px = json_integer_value(json_object_get(x, "partition")),
               py = json_integer_value(json_object_get(y, "partition"));
    if (px != py)
        return px < py ? -1 : 1;
    json_int_t ox = json_integer_value(json_object_get(x, "offset")), oy = json_integer_value(json_object_get(y, "offset"));
    return ox < oy ? 1 : ox > oy ? -1 : 0;
}

/* What the page shows of a DLQ record: where it is, when it came, its
 * key, class, attempts, origin and error (cut to ERROR_TEXT_MAX). */
static json_t *shown(json_t *r)
{
    static const char *const keep[] = {"partition", "offset",   "key",
                                       "dlq_at",    "error_class", "attempts",
                                       "original_partition", "original_offset"};
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(r, keep[i]);
        if (v != NULL)
            json_object_set(o, keep[i], v);
    }
    const char *e = json_string_value(json_object_get(r, "error"));
    if (e != NULL)
        json_object_set_new(o, "error", json_stringn(e, strnlen(e, ERROR_TEXT_MAX)));
    return o;
}

void consistency_dlq_answer(consistency_state_t *s, rt_msg_t *msg)
{
    dlq_recent_msg_t *m = (dlq_recent_msg_t *)msg;
    s->dlq_asking = false;
    json_t *doc = m->status == 200 ? json_loads(m->json, 0, NULL) : NULL;
    json_t *records = json_object_get(doc, "records");
    if (!json_is_array(records)) {
        log_debug("consistency", "the DLQ's last records: %d %.200s", m->status, m->json);
        json_decref(doc);
        free(m->json);
        return;
    }
    size_t n = json_array_size(records);
    json_t **all = calloc(n ? n : 1, sizeof(*all));
    if (all == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        all[i] = json_array_get(records, i);
    qsort(all, n, sizeof(*all), newest_first);
    json_t *recent = json_array();
    for (size_t i = 0; i < n && i < DLQ_RECENT; i++)
        json_array_append_new(recent, shown(all[i]));
    free(all);
    json_decref(s->dlq_recent);
    s->dlq_recent = recent;
    s->dlq_end_answered = s->dlq_end_asked;
    json_decref(doc);
    free(m->json);
}
