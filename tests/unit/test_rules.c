/* The rule classifier: labels decide first, keywords next, and every field
 * it emits is a valid enumeration value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "classification.h"

static classification_t run(const char *title, const char *body, const char *label)
{
    cls_input_t in = {title, body, &label, label ? 1 : 0, NULL};
    classification_t c;
    classify_rules(&in, &c);
    return c;
}

static void test_label_wins(void **state)
{
    (void)state;
    classification_t c = run("How do I add a button?", "", "Type: Bug");
    assert_string_equal(c.category, "bug");
    assert_true(c.confidence > 0.79);
}

static void test_keywords(void **state)
{
    (void)state;
    assert_string_equal(run("App crashes on start", "Traceback: error", NULL).category, "bug");
    assert_string_equal(run("How do I configure logging?", "", NULL).category, "question");
    assert_string_equal(run("Feature request: add support for YAML", "", NULL).category, "feature_request");
    assert_string_equal(run("XSS vulnerability in comments", "an exploit exists", NULL).category, "security");
    classification_t c = run("Crash when saving", "segfault", NULL);
    assert_string_equal(c.priority, "high");
    c = run("Production down: data loss after upgrade", "", NULL);
    assert_string_equal(c.priority, "critical");
}

static void test_fields_always_valid(void **state)
{
    (void)state;
    const char *titles[] = {"", "?", "Typo in README", "x", "Improve performance of the API"};
    for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
        classification_t c = run(titles[i], NULL, NULL);
        assert_true(cls_valid_category(c.category));
        assert_true(cls_valid_level(c.priority));
        assert_true(cls_valid_level(c.severity));
        assert_true(cls_valid_effort(c.estimated_effort));
        assert_true(c.confidence >= 0 && c.confidence <= 1);
        assert_string_equal(c.provider, "rules");
    }
}

static void test_component_whole_words(void **state)
{
    (void)state;
    assert_string_equal(run("The build is slow", "", NULL).component, "build");
    assert_string_equal(run("Quite odd output", "", NULL).component, "general");   /* "ui" inside a word */
}

static void test_copy_text_keeps_utf8(void **state)
{
    (void)state;
    char out[4];
    cls_copy_text(out, sizeof(out), "a\xc3\xa9\xc3\xa9");   /* a é é */
    assert_string_equal(out, "a\xc3\xa9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_wins),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_fields_always_valid),
        cmocka_unit_test(test_component_whole_words),
        cmocka_unit_test(test_copy_text_keeps_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
