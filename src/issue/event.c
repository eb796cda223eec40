#include "event.h"
#include "timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *opt_string(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool iso8601_valid(const char *s)
{
    /* YYYY-MM-DDTHH:MM:SS, then optional fraction, then Z or +hh:mm */
    static const char *shape = "dddd-dd-ddTdd:dd:dd";
    size_t i = 0;
    for (; shape[i]; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return false;
    }
    if (s[i] == '.') {
        i++;
        if (!isdigit((unsigned char)s[i]))
            return false;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    if (s[i] == 'Z')
        return s[i + 1] == '\0';
    if ((s[i] == '+' || s[i] == '-') && isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i + 2]) &&
        s[i + 3] == ':' && isdigit((unsigned char)s[i + 4]) && isdigit((unsigned char)s[i + 5]))
        return s[i + 6] == '\0';
    return false;
}

long long iso8601_to_ms(const char *s)
{
    struct tm tm = {0};
    if (s == NULL || !iso8601_valid(s) || strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
        return -1;
    long long ms = (long long)timegm(&tm) * 1000;
    const char *p = s + 19;
    if (*p == '.') {
        int scale = 100;
        for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
            ms += scale > 0 ? (*p - '0') * scale : 0;
    }
    if (*p == '+' || *p == '-') {
        int minutes = ((p[1] - '0') * 10 + (p[2] - '0')) * 60 + (p[4] - '0') * 10 + (p[5] - '0');
        ms += (*p == '+' ? -1LL : 1LL) * minutes * 60000;   /* 12:00+02:00 is 10:00Z */
    }
    return ms;
}

void json_error_brief(const json_error_t *je, char *out, size_t outlen)
{
    const char *kind;
    switch (json_error_code(je)) {
    case json_error_invalid_utf8: kind = "invalid UTF-8"; break;
    case json_error_premature_end_of_input: kind = "unexpected end of input"; break;
    case json_error_end_of_input_expected: kind = "data after the JSON value"; break;
    case json_error_invalid_syntax: kind = "invalid syntax"; break;
    case json_error_invalid_format: kind = "invalid format"; break;
    case json_error_wrong_type: kind = "wrong type"; break;
    case json_error_null_character: kind = "NUL character in a string"; break;
    case json_error_null_value: kind = "null value"; break;
    case json_error_null_byte_in_key: kind = "NUL byte in an object key"; break;
    case json_error_duplicate_key: kind = "duplicate object key"; break;
    case json_error_numeric_overflow: kind = "numeric overflow"; break;
    case json_error_item_not_found: kind = "item not found"; break;
    case json_error_index_out_of_range: kind = "index out of range"; break;
    case json_error_out_of_memory: kind = "out of memory"; break;
    case json_error_cannot_open_file: kind = "cannot open file"; break;
    default: kind = "unknown error"; break;
    }
    snprintf(out, outlen, "%s at line %d column %d (byte %d)", kind, je->line, je->column, je->position);
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

static int check_time(const char *field, const char *value, char *err, size_t errlen)
{
    if (value != NULL && !iso8601_valid(value)) {
        snprintf(err, errlen, "wrong type: %s must be an ISO 8601 timestamp", field);
        return -1;
    }
    return 0;
}

int issue_event_parse(issue_event_t *ev, const char *data, size_t len, size_t max_bytes,
                      char *err, size_t errlen)
{
    if (data != NULL && len > 0 && len <= max_bytes && issue_event_parse_fast(ev, data, len) == 0)
        return 0;
    return issue_event_parse_reference(ev, data, len, max_bytes, err, errlen);
}

/* The labels' names (pointing into the tree) and both lists as JSON text,
 * in one block: what the pipeline reads of them. */
static void keep_lists(issue_event_t *ev, json_t *labels, json_t *assignees)
{
    char *lt = labels ? json_dumps(labels, JSON_COMPACT) : NULL, *at = assignees ? json_dumps(assignees, JSON_COMPACT) : NULL;
    size_t n = json_array_size(labels), nl = lt ? strlen(lt) + 1 : 0, na = at ? strlen(at) + 1 : 0;
    ev->arena = malloc(n * sizeof(char *) + nl + na + 1);
    if (ev->arena == NULL || (labels && lt == NULL) || (assignees && at == NULL))
        abort();
    const char **names = (const char **)(void *)ev->arena;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(labels, i), "name"));
        names[i] = name ? name : "";
    }
    char *o = ev->arena + n * sizeof(char *);
    ev->labels = names;
    ev->nlabels = (int)n;
    ev->labels_json = lt ? memcpy(o, lt, nl) : NULL;
    ev->assignees_json = at ? memcpy(o + nl, at, na) : NULL;
    free(lt);
    free(at);
}

int issue_event_parse_reference(issue_event_t *ev, const char *data, size_t len, size_t max_bytes,
                                char *err, size_t errlen)
{
    memset(ev, 0, sizeof(*ev));
    if (data == NULL || len == 0) {
        snprintf(err, errlen, "not JSON: empty message");
        return -1;
    }
    if (len > max_bytes) {
        snprintf(err, errlen, "oversized: %zu bytes, limit %zu", len, max_bytes);
        return -1;
    }
    json_error_t je;
    ev->root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (ev->root == NULL) {
        if (json_error_code(&je) == json_error_invalid_utf8)
            FAIL("invalid UTF-8 at byte %d", je.position);
        char where[128];
        json_error_brief(&je, where, sizeof(where));
        FAIL("not JSON: %s", where);
    }
    if (!json_is_object(ev->root))
        FAIL("wrong type: the event must be a JSON object");

    json_t *root = ev->root;
    ev->event_type = opt_string(root, "event_type");
    if (ev->event_type == NULL)
        FAIL("missing field: event_type");
    if (strcmp(ev->event_type, "issue") != 0 && strcmp(ev->event_type, "issues") != 0 &&
        strcmp(ev->event_type, "issue_comment") != 0)
        FAIL("unsupported event_type (expected issue, issues or issue_comment)");
    ev->action = opt_string(root, "action");

    json_t *repo = json_object_get(root, "repository");
    if (!json_is_object(repo))
        FAIL("missing field: repository");
    ev->full_name = opt_string(repo, "full_name");
    if (ev->full_name == NULL)
        FAIL("missing field: repository.full_name");
    const char *slash = strchr(ev->full_name, '/');
    if (slash == NULL || slash == ev->full_name || slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
        FAIL("wrong value: repository.full_name must be owner/name");
    ev->repo = opt_string(repo, "name");
    if (ev->repo == NULL)
        ev->repo = slash + 1;
    json_t *owner = json_object_get(repo, "owner");
    ev->owner = json_is_object(owner) ? opt_string(owner, "login") : NULL;

    json_t *issue = json_object_get(root, "issue");
    if (!json_is_object(issue))
        FAIL("missing field: issue");
    json_t *id = json_object_get(issue, "id");
    if (id == NULL)
        FAIL("missing field: issue.id");
    if (!json_is_integer(id) || json_integer_value(id) <= 0)
        FAIL("wrong type: issue.id must be a positive integer");
    ev->issue_id = json_integer_value(id);
    json_t *num = json_object_get(issue, "number");
    if (num == NULL)
        FAIL("missing field: issue.number");
    if (!json_is_integer(num) || json_integer_value(num) <= 0 || json_integer_value(num) > INT32_MAX)
        FAIL("wrong type: issue.number must be a positive integer");
    ev->number = json_integer_value(num);
    json_t *title = json_object_get(issue, "title");
    if (title == NULL)
        FAIL("missing field: issue.title");
    if (!json_is_string(title))
        FAIL("wrong type: issue.title must be a string");
    ev->title = json_string_value(title);
    json_t *body = json_object_get(issue, "body");
    if (body != NULL && !json_is_null(body) && !json_is_string(body))
        FAIL("wrong type: issue.body must be a string or null");
    ev->body = json_is_string(body) ? json_string_value(body) : NULL;
    ev->state = opt_string(issue, "state");
    if (ev->state == NULL)
        ev->state = "open";
    json_t *labels = json_object_get(issue, "labels"), *assignees = json_object_get(issue, "assignees");
    if (labels != NULL && !json_is_array(labels))
        FAIL("wrong type: issue.labels must be an array");
    keep_lists(ev, labels, json_is_array(assignees) ? assignees : NULL);
    json_t *user = json_object_get(issue, "user");
    ev->author = json_is_object(user) ? opt_string(user, "login") : NULL;
    ev->created_at = opt_string(issue, "created_at");
    ev->updated_at = opt_string(issue, "updated_at");
    ev->closed_at = opt_string(issue, "closed_at");
    if (check_time("issue.created_at", ev->created_at, err, errlen) ||
        check_time("issue.updated_at", ev->updated_at, err, errlen) ||
        check_time("issue.closed_at", ev->closed_at, err, errlen))
        goto fail;
    if (ev->updated_at == NULL)
        ev->updated_at = ev->created_at;
    ev->sync_source = opt_string(root, "sync_source");
    if (ev->sync_source == NULL || strcmp(ev->sync_source, "manual_pull") != 0)
        ev->sync_source = "webhook";
    json_t *comment = json_object_get(root, "comment");
    ev->comment_body = json_is_object(comment) ? opt_string(comment, "body") : NULL;
    if (ev->owner == NULL) {
        size_t n = (size_t)(slash - ev->full_name);
        if (n >= sizeof(ev->owner_buf))
            FAIL("wrong value: repository owner longer than 255 bytes");
        memcpy(ev->owner_buf, ev->full_name, n);
        ev->owner_buf[n] = '\0';
        ev->owner = ev->owner_buf;
    }
    return 0;
fail:
    issue_event_free(ev);
    return -1;
}

void issue_event_free(issue_event_t *ev)
{
    json_decref(ev->root);
    free(ev->arena);
    ev->root = NULL;   /* the other fields point into root or arena: dead with them */
    ev->arena = NULL;
    ev->labels = NULL;
    ev->nlabels = 0;
}

int issue_event_key(const issue_event_t *ev, char *out, size_t outlen)
{
    const char *type = strcmp(ev->event_type, "issues") == 0 ? "issue" : ev->event_type;
    int n = snprintf(out, outlen, "%s:%s:%lld", ev->full_name, type, (long long)ev->number);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

json_t *issue_event_wrap(json_t *issue, const char *owner, const char *repo, const char *user,
                         char *err, size_t errlen)
{
    if (!json_is_object(issue)) {
        snprintf(err, errlen, "not a JSON object");
        return NULL;
    }
    static const char *need[] = {"id", "number"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(issue, need[i]);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            snprintf(err, errlen, "field %s must be a positive integer", need[i]);
            return NULL;
        }
    }
    if (!json_is_string(json_object_get(issue, "title"))) {
        snprintf(err, errlen, "field title must be a string");
        return NULL;
    }
    if (json_object_get(issue, "pull_request") != NULL) {
        snprintf(err, errlen, "is a pull request, not an issue");
        return NULL;
    }
    char full[512], ts[ISO8601_LEN];
    snprintf(full, sizeof(full), "%s/%s", owner, repo);
    iso8601_now(ts, sizeof(ts));
    return json_pack("{s:s, s:s, s:s, s:{s:i, s:s, s:s, s:b, s:{s:s}}, s:O, s:{s:s}, s:s}",
                     "event_type", "issue", "action", "synced", "timestamp", ts,
                     "repository", "id", 0, "name", repo, "full_name", full, "private", 0,
                     "owner", "login", owner,
                     "issue", issue, "sender", "login", user, "sync_source", "manual_pull");
}
