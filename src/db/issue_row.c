#include "issue_row.h"

#include "event_text.h"
#include "schema.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ISSUE_ROW_ISSUE_COLS =
    "github_issue_id, repository_owner, repository_name, issue_number, title, body, state, labels, assignees,"
    " author, created_at, updated_at, closed_at, raw_data, sync_source, pulled_by_user_id";
const char *const ISSUE_ROW_ENRICHED_COLS =
    "classification, category, priority, severity, estimated_effort, component, confidence_score, tags, summary,"
    " ai_reasoning, processing_model, provider, cost_usd";

/* A PostgreSQL text[] literal of the tags. */
static char *text_array(const classification_t *c)
{
    strbuf_t b;
    sb_init(&b);
    sb_append(&b, "{", 1);
    for (int i = 0; i < c->ntags; i++) {
        if (i)
            sb_append(&b, ",", 1);
        pg_array_element(&b, c->tags[i]);
    }
    sb_append(&b, "}", 1);
    return b.data;
}

void issue_row_build(issue_row_t *row, const issue_event_t *e, const classification_t *c, const char *cls_json,
                     const char *raw, size_t rawlen, const char *user_id)
{
    snprintf(row->id, sizeof(row->id), "%lld", (long long)e->issue_id);
    snprintf(row->num, sizeof(row->num), "%lld", (long long)e->number);
    snprintf(row->conf, sizeof(row->conf), "%.4f", c->confidence);
    snprintf(row->cost, sizeof(row->cost), "%.6f", c->cost_usd);
    row->cls_json = cls_json ? NULL : cls_json_text(c);
    row->tags = text_array(c);
    size_t cutlen;
    row->raw = event_without_text(raw, rawlen, &cutlen);
    if (row->raw == NULL)
        row->raw = strndup(raw, rawlen);
    const char *v[ISSUE_ROW_NPARAMS] = {
        row->id, e->owner, e->repo, row->num, e->title, e->body, e->state,
        e->labels_json ? e->labels_json : "[]", e->assignees_json ? e->assignees_json : "[]",
        e->author, e->created_at, e->updated_at, e->closed_at, row->raw, e->sync_source,
        user_id && user_id[0] ? user_id : NULL, cls_json ? cls_json : row->cls_json, c->category, c->priority,
        c->severity, c->estimated_effort, c->component, row->conf, row->tags, c->summary, c->reasoning,
        c->model_version, c->provider, row->cost,
    };
    memcpy(row->v, v, sizeof(v));
}

void issue_row_free(issue_row_t *row)
{
    free(row->cls_json);
    free(row->tags);
    free(row->raw);
    memset(row, 0, sizeof(*row));
}
