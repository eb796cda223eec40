/* enriched_value: the raw event's bytes kept and the two keys spliced in
 * before its closing brace; an event that has either key already is
 * rebuilt with them replaced, never repeated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "enriched.h"

static const enriched_meta_t META = {"2026-11-27T06:00:00Z", 42, "rules-v1", "rules", 0.25};
static const char *CLS = "{\"category\":\"bug\",\"confidence\":0.75}";

/* out as a tree, duplicate keys refused */
static json_t *load(const strbuf_t *out)
{
    json_error_t je;
    json_t *j = json_loadb(out->data, out->len, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(j);
    return j;
}

static void check_added(json_t *j)
{
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "classification"), "category")), "bug");
    json_t *m = json_object_get(j, "processing_metadata");
    assert_string_equal(json_string_value(json_object_get(m, "processed_at")), META.processed_at);
    assert_int_equal(json_integer_value(json_object_get(m, "processing_time_ms")), 42);
    assert_string_equal(json_string_value(json_object_get(m, "model_version")), "rules-v1");
    assert_string_equal(json_string_value(json_object_get(m, "provider")), "rules");
    assert_true(json_is_real(json_object_get(m, "cost_usd")) && json_real_value(json_object_get(m, "cost_usd")) == 0.25);
}

static void test_spliced_into_the_raw_bytes(void **state)
{
    (void)state;
    const char *raw = "{\"event_type\":\"issues\", \"issue\":{\"id\":1,\"title\":\"caf\\u00e9\"}}\n ";
    strbuf_t out;
    sb_init(&out);
    sb_puts(&out, "left over from the last event");
    enriched_value(&out, raw, strlen(raw), NULL, CLS, &META);
    const char *brace = strrchr(raw, '}');
    assert_memory_equal(out.data, raw, (size_t)(brace - raw));   /* byte for byte, escapes and spaces kept */
    json_t *j = load(&out), *want = json_loads(raw, 0, NULL);
    check_added(j);
    json_object_del(j, "classification");
    json_object_del(j, "processing_metadata");
    assert_true(json_equal(j, want));
    json_decref(j);
    json_decref(want);
    sb_free(&out);
}

static void test_keys_already_there_are_replaced(void **state)
{
    (void)state;
    const char *raw = "{\"event_type\":\"issues\",\"classification\":{\"category\":\"stale\"},"
                      "\"issue\":{\"id\":1},\"processing_metadata\":{\"old\":true}}";
    json_t *root = json_loads(raw, 0, NULL);
    strbuf_t out;
    sb_init(&out);
    enriched_value(&out, raw, strlen(raw), root, CLS, &META);
    json_t *j = load(&out);
    check_added(j);
    assert_null(json_object_get(json_object_get(j, "processing_metadata"), "old"));
    assert_int_equal(json_object_size(j), 4);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "issue"), "id")), 1);
    assert_non_null(json_object_get(root, "processing_metadata"));   /* the event's tree is left as it was */
    assert_true(json_object_get(json_object_get(root, "processing_metadata"), "old") != NULL);
    json_decref(j);
    json_decref(root);
    sb_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spliced_into_the_raw_bytes),
        cmocka_unit_test(test_keys_already_there_are_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
