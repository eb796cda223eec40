/* enriched.c -- see enriched.h. */
#include "enriched.h"

#include <stdbool.h>
#include <stdlib.h>

void enriched_value(strbuf_t *out, const char *raw, size_t len, json_t *root, const char *cls_json,
                    const enriched_meta_t *meta)
{
    out->len = 0;
    size_t close = len;
    while (close > 0 && raw[close - 1] != '}')
        close--;
    bool rebuild = close == 0 || json_object_get(root, "classification") || json_object_get(root, "processing_metadata");
    if (!rebuild)
        sb_append(out, raw, close - 1);   /* all but the '}' (an event is never {}) */
    sb_puts(out, rebuild ? "{\"classification\":" : ",\"classification\":");
    sb_puts(out, cls_json);
    sb_puts(out, ",\"processing_metadata\":{\"processed_at\":");
    sb_json_string(out, meta->processed_at);
    sb_printf(out, ",\"processing_time_ms\":%lld,\"model_version\":", meta->processing_time_ms);
    sb_json_string(out, meta->model_version);
    sb_puts(out, ",\"provider\":");
    sb_json_string(out, meta->provider);
    sb_puts(out, ",\"cost_usd\":");
    sb_json_real(out, meta->cost_usd);
    sb_puts(out, "}}");
    if (!rebuild)
        return;
    /* the two members just written, set on the event's tree */
    json_t *added = json_loadb(out->data, out->len, 0, NULL), *tree = root ? json_deep_copy(root) : json_object();
    json_object_update(tree, added);
    char *text = json_dumps(tree, JSON_COMPACT);
    if (text == NULL)
        abort();
    json_decref(added);
    json_decref(tree);
    out->len = 0;
    sb_puts(out, text);
    free(text);
}
