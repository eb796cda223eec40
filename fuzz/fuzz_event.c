/* The issues.raw event parsers: any bytes either parse into an event whose
 * key can be written, or are refused with an error that quotes none of the
 * input; and every event the fast parser takes, the reference parser takes
 * too, with the same fields (the fast one must never be more lenient); the
 * JSON texts it keeps read as the same values; and such an event without
 * its text (event_text.h) is the reference tree less issue.title and a
 * string issue.body. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "event_text.h"

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_labels(const issue_event_t *a, const issue_event_t *b)
{
    if (a->nlabels != b->nlabels)
        return 0;
    for (int i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i], b->labels[i]) != 0)
            return 0;
    return 1;
}

/* Two JSON texts of the same value (each parser writes its own way). */
static int same_as_text(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == NULL && b == NULL;
    json_t *x = json_loads(a, 0, NULL), *y = json_loads(b, 0, NULL);
    int same = x != NULL && y != NULL && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

static void check_without_text(const char *data, size_t size, json_t *root)
{
    size_t len;
    char *cut = event_without_text(data, size, &len);
    if (cut == NULL || strlen(cut) != len)
        __builtin_trap();
    json_t *want = json_deep_copy(root), *issue = json_object_get(want, "issue");
    json_object_del(issue, "title");
    if (json_is_string(json_object_get(issue, "body")))
        json_object_del(issue, "body");
    json_t *got = json_loads(cut, 0, NULL);
    if (got == NULL || !json_equal(got, want))
        __builtin_trap();
    json_decref(got);
    json_decref(want);
    free(cut);
}

static void compare(const char *data, size_t size)
{
    issue_event_t fast, ref;
    char err[256];
    if (issue_event_parse_fast(&fast, data, size) != 0)
        return;
    if (issue_event_parse_reference(&ref, data, size, 1 << 20, err, sizeof(err)) != 0)
        __builtin_trap();   /* the fast parser took what the reference refuses */
    if (!same_text(fast.event_type, ref.event_type) || !same_text(fast.action, ref.action) ||
        !same_text(fast.owner, ref.owner) || !same_text(fast.repo, ref.repo) ||
        !same_text(fast.full_name, ref.full_name) || fast.issue_id != ref.issue_id || fast.number != ref.number ||
        !same_text(fast.title, ref.title) || !same_text(fast.body, ref.body) || !same_text(fast.state, ref.state) ||
        !same_labels(&fast, &ref) ||
        !same_text(fast.author, ref.author) || !same_text(fast.created_at, ref.created_at) ||
        !same_text(fast.updated_at, ref.updated_at) || !same_text(fast.closed_at, ref.closed_at) ||
        !same_text(fast.sync_source, ref.sync_source) || !same_text(fast.comment_body, ref.comment_body))
        __builtin_trap();
    if (!same_as_text(fast.labels_json, ref.labels_json) || !same_as_text(fast.assignees_json, ref.assignees_json))
        __builtin_trap();
    check_without_text(data, size, ref.root);
    issue_event_free(&fast);
    issue_event_free(&ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    issue_event_t ev;
    char err[256], key[320];
    if (issue_event_parse(&ev, (const char *)data, size, 1 << 20, err, sizeof(err)) == 0) {
        issue_event_key(&ev, key, sizeof(key));
        issue_event_free(&ev);
    } else if (strlen(err) >= sizeof(err)) {
        __builtin_trap();
    }
    compare((const char *)data, size);
    return 0;
}
