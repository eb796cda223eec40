/* event_text.cpp -- see event_text.h. simdjson's on-demand parser finds
 * the issue's members without building anything: it indexes the event
 * once and skips the values nobody asks about (a tokenizer that walked
 * every byte of the bodies was the storage thread's largest cost). */
#include <simdjson.h>

#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

extern "C" {
#include "event_text.h"
}

namespace od = simdjson::ondemand;

namespace {

thread_local od::parser parser;
/* The event and the parser's padding: kept for the next, freed with the thread. */
struct padded_buffer {
    char *data = nullptr;
    size_t cap = 0;
    ~padded_buffer() { free(data); }
};
thread_local padded_buffer padded;

struct member {
    size_t from, to;   /* key's opening quote .. end of the value */
    bool drop;
};

bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Where value v ends (its bytes' offset past the last), or 0. */
size_t value_end(od::value v, const char *base)
{
    od::json_type t;
    if (v.type().get(t) != simdjson::SUCCESS)
        return 0;
    std::string_view s;
    if (t == od::json_type::object) {
        od::object o;
        if (v.get_object().get(o) != simdjson::SUCCESS || o.raw_json().get(s) != simdjson::SUCCESS)
            return 0;
    } else if (t == od::json_type::array) {
        od::array a;
        if (v.get_array().get(a) != simdjson::SUCCESS || a.raw_json().get(s) != simdjson::SUCCESS)
            return 0;
    } else {
        s = v.raw_json_token();   /* up to the next structural character, spaces included */
        while (!s.empty() && is_space(s.back()))
            s.remove_suffix(1);
    }
    return (size_t)(s.data() - base) + s.size();
}

/* The issue object's '{' offset and its members, or false. */
bool issue_members(od::value issue, const char *base, size_t *open, std::vector<member> *out)
{
    std::string_view tok = issue.raw_json_token();
    od::object o;
    if (issue.get_object().get(o) != simdjson::SUCCESS)
        return false;
    *open = (size_t)(tok.data() - base);
    out->clear();
    for (auto f : o) {
        if (f.error() != simdjson::SUCCESS)
            return false;
        od::field field = f.value_unsafe();
        od::raw_json_string key = field.key();   /* compared as written, escapes and all */
        bool title = key == "title", body = key == "body";
        size_t from = (size_t)(key.raw() - base) - 1;   /* raw() is past the opening quote */
        od::value v = field.value();
        od::json_type t;
        if (v.type().get(t) != simdjson::SUCCESS)
            return false;
        member m{from, 0, title || (body && t == od::json_type::string)};
        if ((m.to = value_end(v, base)) == 0)
            return false;
        out->push_back(m);
    }
    return true;
}

}   // namespace

extern "C" char *event_without_text(const char *raw, size_t len, size_t *outlen)
{
    if (padded.cap < len + simdjson::SIMDJSON_PADDING) {
        padded.cap = len + simdjson::SIMDJSON_PADDING;
        free(padded.data);
        if ((padded.data = static_cast<char *>(malloc(padded.cap))) == nullptr)
            abort();
    }
    memcpy(padded.data, raw, len);
    const char *base = padded.data;
    od::document doc;
    od::object root;
    if (parser.iterate(base, len, padded.cap).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS)
        return nullptr;
    size_t open = 0;
    bool found = false;
    std::vector<member> members;
    for (auto f : root) {   /* the last "issue" that is an object, as a reader keeping the last key would */
        if (f.error() != simdjson::SUCCESS)
            return nullptr;
        od::field field = f.value_unsafe();
        od::value v = field.value();
        od::json_type t;
        if (field.key() == "issue" && v.type().get(t) == simdjson::SUCCESS && t == od::json_type::object) {
            if (!issue_members(v, base, &open, &members))
                return nullptr;
            found = true;
        }
    }
    if (!found)
        return nullptr;
    /* The issue's '}': past its last member, or right after the '{'. */
    size_t close = members.empty() ? open + 1 : members.back().to;
    while (close < len && raw[close] != '}')
        close++;
    if (close >= len)
        return nullptr;
    char *out = static_cast<char *>(malloc(len + 1));
    if (out == nullptr)
        abort();
    size_t o = open + 1;   /* up to and with the issue's '{' */
    memcpy(out, raw, o);
    int written = 0;
    for (const member &m : members) {
        if (m.drop)
            continue;
        if (written++)
            out[o++] = ',';
        memcpy(out + o, raw + m.from, m.to - m.from);
        o += m.to - m.from;
    }
    memcpy(out + o, raw + close, len - close);   /* from the issue's '}' on */
    o += len - close;
    out[o] = '\0';
    *outlen = o;
    return out;
}
