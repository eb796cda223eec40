/* cls_from_json: a classification read back (or from a model) keeps only
 * allowed enumeration values, a confidence in 0..1, and text cut to fit;
 * cls_json_text and cls_from_json round-trip, and the text is what
 * jansson would write for the same object, escapes included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "classification.h"

static int parse(const char *text, classification_t *c, char *err)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    memset(c, 0, sizeof(*c));
    int rc = cls_from_json(j, c, err, 200);
    json_decref(j);
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    classification_t a;
    memset(&a, 0, sizeof(a));
    strcpy(a.category, "bug");
    strcpy(a.priority, "high");
    strcpy(a.severity, "critical");
    strcpy(a.estimated_effort, "small");
    strcpy(a.component, "parser");
    a.confidence = 0.75;
    cls_add_tag(&a, "crash");
    cls_add_tag(&a, "regression");
    strcpy(a.summary, "Crashes on \"empty\" input\\ \xc3\xa9\t\x01\x1f\x7f\n");
    strcpy(a.reasoning, "stack trace");
    char *text = cls_json_text(&a);
    /* byte for byte what the jansson tree of the same fields dumps */
    json_t *tags = json_pack("[s,s]", "crash", "regression");
    json_t *ref = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:o, s:s, s:s}", "category", "bug", "priority", "high",
                            "severity", "critical", "estimated_effort", "small", "component", "parser",
                            "confidence", 0.75, "tags", tags, "summary", a.summary, "reasoning", "stack trace");
    char *ref_text = json_dumps(ref, JSON_COMPACT);
    assert_string_equal(text, ref_text);
    json_decref(ref);
    free(ref_text);
    a.confidence = 1;   /* a whole number stays a real: 1.0 */
    char *whole = cls_json_text(&a);
    assert_non_null(strstr(whole, "\"confidence\":1.0,"));
    free(whole);
    a.confidence = 0.75;
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    free(text);
    classification_t b;
    memset(&b, 0, sizeof(b));
    char err[200];
    assert_int_equal(cls_from_json(j, &b, err, sizeof(err)), 0);
    json_decref(j);
    assert_string_equal(b.category, "bug");
    assert_string_equal(b.severity, "critical");
    assert_string_equal(b.component, "parser");
    assert_int_equal(b.ntags, 2);
    assert_string_equal(b.tags[1], "regression");
    assert_true(b.confidence > 0.749 && b.confidence < 0.751);
    assert_string_equal(b.reasoning, "stack trace");
    assert_string_equal(b.summary, a.summary);
}

static void test_rejects_bad_values(void **state)
{
    (void)state;
    classification_t c;
    char err[200];
    const char *ok = "\"priority\":\"low\",\"severity\":\"low\",\"estimated_effort\":\"large\",\"confidence\":0.5";
    char buf[512];
    snprintf(buf, sizeof(buf), "{\"category\":\"crash\",%s}", ok);
    assert_int_equal(parse(buf, &c, err), -1);
    assert_non_null(strstr(err, "category"));
    assert_int_equal(parse("{\"category\":\"bug\",\"priority\":\"urgent\",\"severity\":\"low\","
                           "\"estimated_effort\":\"large\",\"confidence\":0.5}", &c, err), -1);
    assert_non_null(strstr(err, "priority"));
    assert_int_equal(parse("{\"category\":\"bug\",\"priority\":\"low\",\"severity\":\"low\","
                           "\"estimated_effort\":\"large\",\"confidence\":1.5}", &c, err), -1);
    assert_non_null(strstr(err, "confidence"));
    assert_int_equal(parse("{\"category\":\"bug\",\"priority\":\"low\",\"severity\":\"low\","
                           "\"estimated_effort\":\"large\"}", &c, err), -1);
    assert_int_equal(parse("[1,2]", &c, err), -1);
    snprintf(buf, sizeof(buf), "{\"category\":\"question\",%s,\"tags\":\"x\"}", ok);
    assert_int_equal(parse(buf, &c, err), -1);
    assert_non_null(strstr(err, "tags"));
}

static void test_long_text_is_cut_at_a_character(void **state)
{
    (void)state;
    /* 600 x "é" (2 bytes each): the 512-byte summary keeps whole characters */
    char summary[1300] = "";
    for (int i = 0; i < 600; i++)
        strcat(summary, "\xc3\xa9");
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:f,s:s,s:[s,s,s,s,s,s,s,s,s,s]}", "category", "documentation",
                          "priority", "medium", "severity", "low", "estimated_effort", "medium", "confidence",
                          0.9, "summary", summary, "tags", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j");
    classification_t c;
    memset(&c, 0, sizeof(c));
    char err[200];
    assert_int_equal(cls_from_json(j, &c, err, sizeof(err)), 0);
    json_decref(j);
    size_t n = strlen(c.summary);
    assert_true(n <= sizeof(c.summary) - 1 && n >= sizeof(c.summary) - 3);
    assert_int_equal(n % 2, 0);
    assert_int_equal(c.ntags, CLS_MAX_TAGS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip), cmocka_unit_test(test_rejects_bad_values),
                                       cmocka_unit_test(test_long_text_is_cut_at_a_character)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
