/*
 * issue_row.h -- the column values of one issue row and its classification
 * (the issues and enriched_issues tables, schema.c) as text parameters, in the order the storage actor's
 * upsert takes them: $1..$16 the issue, $17..$29 the classification.
 * Shared by the storage path and the storage benchmark's COPY and naive
 * peers, so all three write exactly the same rows.
 */
#ifndef DISPATCHD_ISSUE_ROW_H
#define DISPATCHD_ISSUE_ROW_H

#include <stddef.h>

#include "classification.h"
#include "event.h"

#define ISSUE_ROW_NPARAMS 29
#define ISSUE_ROW_ISSUE_COLUMNS 16   /* the first 16 are the issue's */

typedef struct issue_row {
    char id[24], num[24], conf[16], cost[32];
    char *cls_json, *tags, *raw;   /* made here (cls_json NULL: borrowed) */
    const char *v[ISSUE_ROW_NPARAMS];   /* NULL is SQL NULL */
} issue_row_t;

/* cls_json: c as JSON (NULL: made here; else borrowed, as are the
 * event's texts: row->v is valid while they are); raw: the record's bytes, stored as raw_data without the title and body
 * (event_text.h); user_id NULL or "" for none. */
void issue_row_build(issue_row_t *row, const issue_event_t *e, const classification_t *c, const char *cls_json,
                     const char *raw, size_t rawlen, const char *user_id);
void issue_row_free(issue_row_t *row);

/* Column names of the issues table for v[0..15], and of enriched_issues
 * for v[16..28] (issue_id and source_updated_at come separately). */
extern const char *const ISSUE_ROW_ISSUE_COLS;
extern const char *const ISSUE_ROW_ENRICHED_COLS;

#endif
