#include "classification.h"

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

json_t *cls_to_json(const classification_t *c)
{
    json_t *tags = json_array();
    for (int i = 0; i < c->ntags; i++)
        json_array_append_new(tags, json_string(c->tags[i]));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:o, s:s, s:s}",
                     "category", c->category, "priority", c->priority, "severity", c->severity,
                     "estimated_effort", c->estimated_effort, "component", c->component,
                     "confidence", c->confidence, "tags", tags, "summary", c->summary,
                     "reasoning", c->reasoning);
}
