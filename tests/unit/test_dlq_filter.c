/* DLQ filters: every field from its text (ISO 8601 or Unix ms times, the
 * classes, limits, tails, dry_run), each bad value refused with its name, unknown
 * fields refused, a JSON body read alike, from after to refused, and the
 * match: inclusive time bounds, exact keys, the class. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dlq_filter.h"

static void test_fields(void **state)
{
    (void)state;
    dlq_filter_t f;
    char err[200];
    dlq_filter_init(&f);
    assert_int_equal(f.from_ms, -1);
    assert_int_equal(f.error_class, DLQ_CLASS_ANY);
    assert_int_equal(dlq_filter_set(&f, "from", "2024-05-01T12:00:00Z", err, sizeof(err)), 0);
    assert_int_equal(f.from_ms, 1714564800000LL);
    assert_int_equal(dlq_filter_set(&f, "to", "1714564800500", err, sizeof(err)), 0);
    assert_int_equal(f.to_ms, 1714564800500LL);
    assert_int_equal(dlq_filter_set(&f, "error_class", "transient", err, sizeof(err)), 0);
    assert_int_equal(f.error_class, DLQ_CLASS_TRANSIENT);
    assert_int_equal(dlq_filter_set(&f, "limit", "25", err, sizeof(err)), 0);
    assert_int_equal(f.limit, 25);
    assert_int_equal(f.tail, 0);
    assert_int_equal(dlq_filter_set(&f, "tail", "20", err, sizeof(err)), 0);
    assert_int_equal(f.tail, 20);
    assert_int_equal(dlq_filter_set(&f, "dry_run", "true", err, sizeof(err)), 0);
    assert_true(f.dry_run);
    assert_int_equal(dlq_filter_set(&f, "key", "o/r:issue:1", err, sizeof(err)), 0);
    assert_string_equal(f.key, "o/r:issue:1");
    assert_int_equal(dlq_filter_check(&f, err, sizeof(err)), 0);
}

static void test_bad_values(void **state)
{
    (void)state;
    dlq_filter_t f;
    char err[200];
    dlq_filter_init(&f);
    const char *bad[][2] = {{"from", "yesterday"}, {"to", "2024-13-01"}, {"from", "-5"}, {"error_class", "fatal"},
                            {"limit", "0"}, {"limit", "ten"}, {"tail", "0"}, {"tail", "-3"}, {"dry_run", "yes"}, {"key", ""}, {"colour", "red"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(dlq_filter_set(&f, bad[i][0], bad[i][1], err, sizeof(err)), -1);
        assert_non_null(strstr(err, bad[i][0]));   /* the message names the field */
    }
    dlq_filter_set(&f, "from", "2000", err, sizeof(err));
    dlq_filter_set(&f, "to", "1000", err, sizeof(err));
    assert_int_equal(dlq_filter_check(&f, err, sizeof(err)), -1);
    assert_string_equal(err, "from is after to");
}

static void test_json(void **state)
{
    (void)state;
    dlq_filter_t f;
    char err[200];
    dlq_filter_init(&f);
    json_t *j = json_loads("{\"from\": 1000, \"key\": \"a/b:issue:2\", \"dry_run\": true, \"limit\": 7, \"to\": null}",
                           0, NULL);
    assert_int_equal(dlq_filter_set_json(&f, j, err, sizeof(err)), 0);
    json_decref(j);
    assert_int_equal(f.from_ms, 1000);
    assert_int_equal(f.to_ms, -1);
    assert_true(f.dry_run);
    assert_int_equal(f.limit, 7);
    j = json_loads("{\"limit\": [1]}", 0, NULL);
    assert_int_equal(dlq_filter_set_json(&f, j, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "limit"));
    json_decref(j);
    j = json_loads("[1]", 0, NULL);
    assert_int_equal(dlq_filter_set_json(&f, j, err, sizeof(err)), -1);
    json_decref(j);
}

static void test_match(void **state)
{
    (void)state;
    dlq_filter_t f;
    char err[200];
    dlq_filter_init(&f);
    assert_true(dlq_filter_match(&f, NULL, 0, NULL, 5));   /* no filter: everything */
    dlq_filter_set(&f, "from", "1000", err, sizeof(err));
    dlq_filter_set(&f, "to", "2000", err, sizeof(err));
    assert_false(dlq_filter_match(&f, "k", 1, "permanent", 999));
    assert_true(dlq_filter_match(&f, "k", 1, "permanent", 1000));
    assert_true(dlq_filter_match(&f, "k", 1, "permanent", 2000));
    assert_false(dlq_filter_match(&f, "k", 1, "permanent", 2001));
    dlq_filter_set(&f, "key", "o/r:issue:1", err, sizeof(err));
    assert_true(dlq_filter_match(&f, "o/r:issue:1", 11, NULL, 1500));
    assert_false(dlq_filter_match(&f, "o/r:issue:10", 12, NULL, 1500));   /* exact, not a prefix */
    assert_false(dlq_filter_match(&f, "o/r:issue:", 10, NULL, 1500));
    assert_false(dlq_filter_match(&f, NULL, 0, NULL, 1500));
    dlq_filter_set(&f, "error_class", "permanent", err, sizeof(err));
    assert_true(dlq_filter_match(&f, "o/r:issue:1", 11, "permanent", 1500));
    assert_false(dlq_filter_match(&f, "o/r:issue:1", 11, "transient", 1500));
    assert_false(dlq_filter_match(&f, "o/r:issue:1", 11, NULL, 1500));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
