/*
 * event_fast.cpp -- issue_event_parse_fast (event.h): simdjson parses and
 * validates the whole event (30x faster than building a jansson tree of
 * it: the tree was the largest cost of an event in dispatchd); the fields
 * the pipeline reads are copied into one block. The rules are the
 * reference parser's (event.c), and where simdjson is more lenient than
 * jansson the event goes to the reference parser: duplicate keys (jansson
 * refuses them), \u0000 and surrogate escapes, a byte-order mark. Any
 * doubt or problem: -1, and the reference parser decides and explains.
 */
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

extern "C" {
#include "event.h"
}

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

namespace {

thread_local simdjson::dom::parser parser;

/* More labels than an issue can have on GitHub (100): the reference parser
 * takes the event. */
constexpr size_t MAX_LABELS = 128;

/* An escape jansson refuses or treats differently: \u0000 and the
 * surrogate halves. Escapes are read pair by pair from the first
 * backslash, so an escaped backslash before a "u" is not taken for one. */
bool doubtful_escapes(const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    while ((p = static_cast<const char *>(memchr(p, '\\', (size_t)(end - p)))) != nullptr) {
        if (end - p < 2)
            return true;
        if (p[1] != 'u') {
            p += 2;   /* another escape, or an escaped backslash: its second byte is not an escape */
            continue;
        }
        if (end - p < 6)
            return true;
        unsigned v = 0;
        for (int i = 2; i < 6; i++) {
            char c = p[i];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0)
                return true;
            v = v * 16 + (unsigned)d;
        }
        if (v == 0 || (v >= 0xD800 && v <= 0xDFFF))
            return true;
        p += 6;
    }
    return false;
}

/* Whether any object in the document has a key twice. */
bool duplicate_keys(element e)
{
    if (e.is_array()) {
        for (element x : array(e))
            if (duplicate_keys(x))
                return true;
        return false;
    }
    if (!e.is_object())
        return false;
    std::vector<std::string_view> keys;
    for (auto field : object(e)) {
        keys.push_back(field.key);
        if (duplicate_keys(field.value))
            return true;
    }
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
}

/* A member that is a string, or nothing (absent, or another type). */
bool opt_string(object o, const char *key, std::string_view *out)
{
    element v;
    if (o[key].get(v) != simdjson::SUCCESS || !v.is_string())
        return false;
    *out = std::string_view(v);
    return true;
}

/* The fields before they are copied into the block. */
struct parts {
    std::string_view event_type, action, full_name, repo, owner, title, body, state, author, created, updated,
        closed, sync_source, comment_body;
    bool has_action, has_repo, has_owner, has_body, has_state, has_author, has_created, has_updated, has_closed,
        has_sync_source, has_comment_body;
};

const char *keep(char **o, std::string_view s)
{
    char *at = *o;
    if (!s.empty())   /* an absent name is an empty view with no data */
        memcpy(at, s.data(), s.size());
    at[s.size()] = '\0';
    *o += s.size() + 1;
    return at;
}

}   // namespace

extern "C" int issue_event_parse_fast(issue_event_t *ev, const char *data, size_t len)
{
    memset(ev, 0, sizeof(*ev));
    if (len == 0 || (unsigned char)data[0] == 0xEF || doubtful_escapes(data, len))
        return -1;
    element doc;
    if (parser.parse(data, len).get(doc) != simdjson::SUCCESS || !doc.is_object() || duplicate_keys(doc))
        return -1;
    object root(doc);
    parts p{};
    if (!opt_string(root, "event_type", &p.event_type) ||
        (p.event_type != "issue" && p.event_type != "issues" && p.event_type != "issue_comment"))
        return -1;
    p.has_action = opt_string(root, "action", &p.action);
    object repo, issue;
    if (root["repository"].get(repo) != simdjson::SUCCESS || !opt_string(repo, "full_name", &p.full_name))
        return -1;
    size_t slash = p.full_name.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == p.full_name.size() ||
        p.full_name.find('/', slash + 1) != std::string_view::npos || p.full_name.find('\0') != std::string_view::npos)
        return -1;
    p.has_repo = opt_string(repo, "name", &p.repo);
    object owner;
    if (repo["owner"].get(owner) == simdjson::SUCCESS)
        p.has_owner = opt_string(owner, "login", &p.owner);
    if (!p.has_owner && slash >= 256)
        return -1;
    if (root["issue"].get(issue) != simdjson::SUCCESS)
        return -1;
    int64_t id, number;
    element v;
    if (issue["id"].get(v) != simdjson::SUCCESS || !v.is_int64() || (id = int64_t(v)) <= 0)
        return -1;
    if (issue["number"].get(v) != simdjson::SUCCESS || !v.is_int64() || (number = int64_t(v)) <= 0 ||
        number > INT32_MAX)
        return -1;
    if (!opt_string(issue, "title", &p.title))
        return -1;
    if (issue["body"].get(v) == simdjson::SUCCESS) {
        if (!v.is_null() && !v.is_string())
            return -1;
        p.has_body = opt_string(issue, "body", &p.body);
    }
    p.has_state = opt_string(issue, "state", &p.state);
    element labels, assignees;
    bool has_labels = issue["labels"].get(labels) == simdjson::SUCCESS;
    if (has_labels && !labels.is_array())
        return -1;
    bool has_assignees = issue["assignees"].get(assignees) == simdjson::SUCCESS && assignees.is_array();
    object user;
    if (issue["user"].get(user) == simdjson::SUCCESS)
        p.has_author = opt_string(user, "login", &p.author);
    p.has_created = opt_string(issue, "created_at", &p.created);
    p.has_updated = opt_string(issue, "updated_at", &p.updated);
    p.has_closed = opt_string(issue, "closed_at", &p.closed);
    p.has_sync_source = opt_string(root, "sync_source", &p.sync_source);
    object comment;
    if (root["comment"].get(comment) == simdjson::SUCCESS)
        p.has_comment_body = opt_string(comment, "body", &p.comment_body);
    /* An event that carries what publishing adds is rebuilt by the
     * publisher from the reference parser's tree. */
    if (root["classification"].get(v) == simdjson::SUCCESS || root["processing_metadata"].get(v) == simdjson::SUCCESS)
        return -1;

    /* each label's name, "" for one without (as the reference parser) */
    std::string_view names[MAX_LABELS];
    size_t nlabels = 0;
    if (has_labels) {
        for (element l : array(labels)) {
            if (nlabels == MAX_LABELS)
                return -1;
            std::string_view name;
            names[nlabels++] = l.is_object() && opt_string(object(l), "name", &name) ? name : std::string_view();
        }
    }
    std::string labels_text = has_labels ? simdjson::minify(labels) : std::string(),
                assignees_text = has_assignees ? simdjson::minify(assignees) : std::string();
    std::string_view all[] = {p.event_type, p.action, p.full_name, p.repo, p.owner, p.title, p.body, p.state,
                              p.author, p.created, p.updated, p.closed, p.sync_source, p.comment_body,
                              labels_text, assignees_text};
    size_t size = nlabels * sizeof(char *);
    for (auto s : all) {
        if (s.find('\0') != std::string_view::npos)
            return -1;   /* (excluded by the escapes check; jansson would refuse it) */
        size += s.size() + 1;
    }
    for (size_t i = 0; i < nlabels; i++)
        size += names[i].size() + 1;
    char *o = static_cast<char *>(malloc(size));
    if (o == nullptr)
        abort();
    ev->arena = o;
    const char **list = reinterpret_cast<const char **>(o);
    o += nlabels * sizeof(char *);
    for (size_t i = 0; i < nlabels; i++)
        list[i] = keep(&o, names[i]);
    ev->labels = list;
    ev->nlabels = static_cast<int>(nlabels);
    ev->event_type = keep(&o, p.event_type);
    ev->action = p.has_action ? keep(&o, p.action) : nullptr;
    ev->full_name = keep(&o, p.full_name);
    ev->repo = p.has_repo ? keep(&o, p.repo) : ev->full_name + slash + 1;
    if (p.has_owner) {
        ev->owner = keep(&o, p.owner);
    } else {
        memcpy(ev->owner_buf, p.full_name.data(), slash);
        ev->owner_buf[slash] = '\0';
        ev->owner = ev->owner_buf;
    }
    ev->issue_id = id;
    ev->number = number;
    ev->title = keep(&o, p.title);
    ev->body = p.has_body ? keep(&o, p.body) : nullptr;
    ev->state = p.has_state ? keep(&o, p.state) : "open";
    ev->author = p.has_author ? keep(&o, p.author) : nullptr;
    ev->created_at = p.has_created ? keep(&o, p.created) : nullptr;
    ev->updated_at = p.has_updated ? keep(&o, p.updated) : nullptr;
    ev->closed_at = p.has_closed ? keep(&o, p.closed) : nullptr;
    ev->sync_source = p.has_sync_source && p.sync_source == "manual_pull" ? "manual_pull" : "webhook";
    ev->comment_body = p.has_comment_body ? keep(&o, p.comment_body) : nullptr;
    if ((ev->created_at && !iso8601_valid(ev->created_at)) || (ev->updated_at && !iso8601_valid(ev->updated_at)) ||
        (ev->closed_at && !iso8601_valid(ev->closed_at))) {
        issue_event_free(ev);
        return -1;
    }
    if (ev->updated_at == nullptr)
        ev->updated_at = ev->created_at;
    ev->labels_json = has_labels ? keep(&o, labels_text) : nullptr;
    ev->assignees_json = has_assignees ? keep(&o, assignees_text) : nullptr;
    return 0;
}
