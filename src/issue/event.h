/*
 * event.h -- an `issues.raw` event, parsed and validated.
 *
 * Two parsers take the same events the same way: a fast one (simdjson,
 * event_fast.cpp) that copies out only what the pipeline reads, and the
 * reference one (jansson) that every event the fast one does not take --
 * all refusals among them -- goes to, so each refusal is explained by the
 * one parser. Validation reports the first problem as a sentence fit for
 * the DLQ `error` header, naming the field but never quoting titles or
 * bodies.
 */
#ifndef DISPATCHD_EVENT_H
#define DISPATCHD_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct issue_event {
    json_t *root;                /* the reference parser's tree (the fields point into it);
                                    NULL from the fast parser */
    char *arena;                 /* one block: the label names' list, the texts, and
                                    (fast parser) copies of the fields */
    const char *event_type;      /* "issue", "issues", "issue_comment" */
    const char *action;
    const char *owner, *repo, *full_name;
    int64_t issue_id;
    int64_t number;
    const char *title, *body, *state;
    const char *const *labels;   /* each label's name, in order ("" for one without) */
    int nlabels;
    const char *labels_json;     /* issue.labels as compact JSON text, NULL when absent */
    const char *assignees_json;  /* issue.assignees (an array) as JSON text, else NULL */
    const char *author;
    const char *created_at, *updated_at, *closed_at;
    const char *sync_source;     /* "webhook" or "manual_pull" */
    const char *comment_body;    /* issue_comment events */
    char owner_buf[256];         /* owner taken from full_name when absent */
} issue_event_t;

/* Parses `len` bytes. Returns 0, or -1 with a message in err. On success the
 * caller frees with issue_event_free(). */
int issue_event_parse(issue_event_t *ev, const char *data, size_t len, size_t max_bytes,
                      char *err, size_t errlen);
/* The reference parser alone (the fuzz target compares the two). */
int issue_event_parse_reference(issue_event_t *ev, const char *data, size_t len, size_t max_bytes,
                                char *err, size_t errlen);
/* The fast parser alone: 0 when it takes the event, -1 when the reference
 * parser must decide (anything it is not sure of, every refusal). */
int issue_event_parse_fast(issue_event_t *ev, const char *data, size_t len);
void issue_event_free(issue_event_t *ev);

/* The issues.raw event a batch sync publishes for one GitHub issue object
 * (sync_source manual_pull); NULL with err when the
 * object is not an issue. */
json_t *issue_event_wrap(json_t *issue, const char *owner, const char *repo, const char *user, char *err,
                         size_t errlen);

/* "owner/repo:event_type:number": the key of issues.raw messages. */
int issue_event_key(const issue_event_t *ev, char *out, size_t outlen);

/* Checks an ISO 8601 timestamp such as 2024-05-01T12:00:00Z or with an
 * offset (+02:00). */
bool iso8601_valid(const char *s);

/* Milliseconds since the epoch of a timestamp iso8601_valid accepts, its
 * UTC offset applied; -1 if it is not one. */
long long iso8601_to_ms(const char *s);

/* Describes a jansson parse error by kind and place only: jansson's own
 * text quotes the input ("invalid token near '...'"), and the input may be
 * an issue's title or body, which logs and DLQ headers never carry. */
void json_error_brief(const json_error_t *je, char *out, size_t outlen);

#endif
