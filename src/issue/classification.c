#include "classification.h"

#include "strbuf.h"
#include "event.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

bool cls_valid_category(const char *s)
{
    static const char *const v[] = {"bug", "feature_request", "enhancement", "documentation",
                                    "question", "security", NULL};
    return s && one_of(s, v);
}

bool cls_valid_level(const char *s)
{
    static const char *const v[] = {"low", "medium", "high", "critical", NULL};
    return s && one_of(s, v);
}

bool cls_valid_effort(const char *s)
{
    static const char *const v[] = {"small", "medium", "large", NULL};
    return s && one_of(s, v);
}

void cls_copy_text(char *dst, size_t n, const char *src)
{
    if (n == 0)
        return;
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    size_t len = strlen(src);
    if (len >= n) {
        len = n - 1;
        /* back off continuation bytes so we never split a character */
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void cls_add_tag(classification_t *c, const char *tag)
{
    if (c->ntags >= CLS_MAX_TAGS)
        return;
    for (int i = 0; i < c->ntags; i++)
        if (strcmp(c->tags[i], tag) == 0)
            return;
    cls_copy_text(c->tags[c->ntags++], sizeof(c->tags[0]), tag);
}

char *cls_json_text(const classification_t *c)
{
    static const char *const keys[] = {"category", "priority", "severity", "estimated_effort", "component"};
    const char *vals[] = {c->category, c->priority, c->severity, c->estimated_effort, c->component};
    strbuf_t b;
    sb_init(&b);
    /* one allocation: the keys, enumerations and number take ~200 bytes, the
     * texts more when escaped */
    sb_reserve(&b, 256 + (size_t)c->ntags * sizeof(c->tags[0]) + strlen(c->summary) * 9 / 8 +
                       strlen(c->reasoning) * 9 / 8);
    for (int i = 0; i < 5; i++) {
        sb_append(&b, i ? ",\"" : "{\"", 2);
        sb_puts(&b, keys[i]);
        sb_append(&b, "\":", 2);
        sb_json_string(&b, vals[i]);
    }
    sb_puts(&b, ",\"confidence\":");
    sb_json_real(&b, c->confidence);
    sb_puts(&b, ",\"tags\":[");
    for (int i = 0; i < c->ntags; i++) {
        if (i)
            sb_append(&b, ",", 1);
        sb_json_string(&b, c->tags[i]);
    }
    sb_puts(&b, "],\"summary\":");
    sb_json_string(&b, c->summary);
    sb_puts(&b, ",\"reasoning\":");
    sb_json_string(&b, c->reasoning);
    sb_append(&b, "}", 1);
    return b.data;
}

static const char *field_str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

int cls_from_json(const json_t *obj, classification_t *out, char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "classification is not an object");
        return -1;
    }
    static const struct {
        const char *name;
        bool (*valid)(const char *);
    } enums[] = {{"category", cls_valid_category}, {"priority", cls_valid_level},
                 {"severity", cls_valid_level}, {"estimated_effort", cls_valid_effort}};
    for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
        const char *v = field_str(obj, enums[i].name);
        if (!enums[i].valid(v)) {
            /* The value is the model's text, which may quote the issue: not repeated. */
            snprintf(err, errlen, "classification.%s: %s", enums[i].name, v ? "not an allowed value" : "missing");
            return -1;
        }
    }
    json_t *conf = json_object_get(obj, "confidence");
    if (!json_is_number(conf) || json_number_value(conf) < 0 || json_number_value(conf) > 1) {
        snprintf(err, errlen, "classification.confidence: must be a number from 0 to 1");
        return -1;
    }
    json_t *tags = json_object_get(obj, "tags");
    if (tags != NULL && !json_is_array(tags)) {
        snprintf(err, errlen, "classification.tags: must be an array of strings");
        return -1;
    }
    cls_copy_text(out->category, sizeof(out->category), field_str(obj, "category"));
    cls_copy_text(out->priority, sizeof(out->priority), field_str(obj, "priority"));
    cls_copy_text(out->severity, sizeof(out->severity), field_str(obj, "severity"));
    cls_copy_text(out->estimated_effort, sizeof(out->estimated_effort), field_str(obj, "estimated_effort"));
    cls_copy_text(out->component, sizeof(out->component), field_str(obj, "component"));
    out->confidence = json_number_value(conf);
    out->ntags = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
        if (json_is_string(t) && json_string_length(t) > 0)
            cls_add_tag(out, json_string_value(t));
    cls_copy_text(out->summary, sizeof(out->summary), field_str(obj, "summary"));
    cls_copy_text(out->reasoning, sizeof(out->reasoning), field_str(obj, "reasoning"));
    return 0;
}

int cls_from_llm_response(const char *body, size_t len, classification_t *out, llm_answer_t *answer, char *why,
                          size_t whylen)
{
    memset(answer, 0, offsetof(llm_answer_t, content) + 1);
    json_t *root = json_loadb(body != NULL ? body : "", len, 0, NULL);
    json_t *msg = json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message");
    const char *content = json_string_value(json_object_get(msg, "content"));
    if (content == NULL) {
        json_decref(root);
        snprintf(why, whylen, "the response has no choices[0].message.content");
        return -1;
    }
    json_t *usage = json_object_get(root, "usage");
    json_int_t in = json_integer_value(json_object_get(usage, "prompt_tokens"));
    json_int_t outt = json_integer_value(json_object_get(usage, "completion_tokens"));
    answer->prompt_tokens = in > 0 ? (long)in : 0;
    answer->completion_tokens = outt > 0 ? (long)outt : 0;
    const char *model = json_string_value(json_object_get(root, "model"));
    cls_copy_text(answer->model, sizeof(answer->model), model != NULL ? model : "");
    snprintf(answer->content, sizeof(answer->content), "%s", content);
    json_t *parsed = json_loads(content, 0, NULL);
    int rc = parsed != NULL ? cls_from_json(parsed, out, why, whylen) : -1;
    if (parsed == NULL)
        snprintf(why, whylen, "not JSON");
    json_decref(parsed);
    json_decref(root);
    return rc == 0 ? 0 : 1;
}

cls_input_t cls_input_of(const issue_event_t *e)
{
    return (cls_input_t){e->title, e->comment_body ? e->comment_body : e->body, e->labels, e->nlabels, e->full_name};
}
