/* Raw event validation: what is accepted, and the error each bad input gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "event.h"
#include "event_text.h"
#include "strbuf.h"

static const char *GOOD =
    "{\"event_type\":\"issue\",\"action\":\"opened\",\"repository\":{\"id\":1,\"name\":\"repo\","
    "\"full_name\":\"org/repo\",\"private\":false},\"issue\":{\"id\":42,\"number\":7,\"title\":\"T\","
    "\"body\":null,\"state\":\"open\",\"labels\":[{\"name\":\"bug\"}],\"user\":{\"login\":\"u\"},"
    "\"created_at\":\"2024-01-02T03:04:05Z\",\"updated_at\":\"2024-01-02T03:04:06Z\"}}";

static int parse(const char *s, char *err)
{
    issue_event_t ev;
    int rc = issue_event_parse(&ev, s, strlen(s), 1 << 20, err, 256);
    if (rc == 0)
        issue_event_free(&ev);
    return rc;
}

static void test_good_event(void **state)
{
    (void)state;
    issue_event_t ev;
    char err[256], key[128];
    assert_int_equal(issue_event_parse(&ev, GOOD, strlen(GOOD), 1 << 20, err, sizeof(err)), 0);
    assert_string_equal(ev.owner, "org");
    assert_string_equal(ev.repo, "repo");
    assert_int_equal(ev.issue_id, 42);
    assert_int_equal(ev.number, 7);
    assert_null(ev.body);
    assert_string_equal(ev.sync_source, "webhook");
    assert_string_equal(ev.updated_at, "2024-01-02T03:04:06Z");
    assert_int_equal(issue_event_key(&ev, key, sizeof(key)), 0);
    assert_string_equal(key, "org/repo:issue:7");
    issue_event_free(&ev);
}

/* What the pipeline reads of the labels and assignees, the same from both
 * parsers: each label's name in order ("" for one without a string name),
 * and both lists as JSON text. */
static void test_labels_and_assignees(void **state)
{
    (void)state;
    const char *ev_text =
        "{\"event_type\":\"issues\",\"repository\":{\"full_name\":\"o/r\"},\"issue\":{\"id\":1,\"number\":2,"
        "\"title\":\"T\",\"labels\":[{\"name\":\"Type: Bug\"},{\"color\":\"f00\"},3,{\"name\":\"caf\\u00e9\"}],"
        "\"assignees\":[{\"login\":\"a\"}]}}";
    int (*parsers[2])(issue_event_t *, const char *, size_t, size_t, char *, size_t) = {issue_event_parse,
                                                                                        issue_event_parse_reference};
    for (int k = 0; k < 2; k++) {
        issue_event_t ev;
        char err[256];
        assert_int_equal(parsers[k](&ev, ev_text, strlen(ev_text), 1 << 20, err, sizeof(err)), 0);
        assert_int_equal(ev.nlabels, 4);
        assert_string_equal(ev.labels[0], "Type: Bug");
        assert_string_equal(ev.labels[1], "");
        assert_string_equal(ev.labels[2], "");
        assert_string_equal(ev.labels[3], "caf\xc3\xa9");
        json_t *l = json_loads(ev.labels_json, 0, NULL), *a = json_loads(ev.assignees_json, 0, NULL);
        assert_int_equal(json_array_size(l), 4);
        assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "login")), "a");
        json_decref(l);
        json_decref(a);
        issue_event_free(&ev);
    }
    /* none: no list, no texts */
    issue_event_t ev;
    char err[256];
    assert_int_equal(issue_event_parse(&ev, GOOD, strlen(GOOD), 1 << 20, err, sizeof(err)), 0);
    assert_int_equal(ev.nlabels, 1);
    assert_null(ev.assignees_json);
    issue_event_free(&ev);
}

/* Cuts s's text and checks the result against want (and that it is
 * JSON jansson reads). */
static void cut_is(const char *s, const char *want)
{
    size_t n = 0;
    char *out = event_without_text(s, strlen(s), &n);
    if (want == NULL) {
        assert_null(out);
        return;
    }
    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_decref(j);
    free(out);
}

static void test_text_cut_from_raw_data(void **state)
{
    (void)state;
    /* title and a string body go, wherever they are; the rest stays byte for byte */
    cut_is("{\"a\":1,\"issue\":{\"id\":1,\"title\":\"T \\\"q\\\" }\",\"body\":\"B {x}\",\"n\":[1,{\"title\":2}]},\"z\":\"title\"}",
           "{\"a\":1,\"issue\":{\"id\":1,\"n\":[1,{\"title\":2}]},\"z\":\"title\"}");
    cut_is("{\"issue\":{\"title\":\"T\",\"body\":\"B\"}}", "{\"issue\":{}}");
    cut_is("{\"issue\":{\"body\":\"B\",\"id\":2,\"title\":\"T\"} }", "{\"issue\":{\"id\":2} }");
    /* a null body stays: the column cannot tell it from an absent one */
    cut_is(GOOD, "{\"event_type\":\"issue\",\"action\":\"opened\",\"repository\":{\"id\":1,\"name\":\"repo\","
                 "\"full_name\":\"org/repo\",\"private\":false},\"issue\":{\"id\":42,\"number\":7,"
                 "\"body\":null,\"state\":\"open\",\"labels\":[{\"name\":\"bug\"}],\"user\":{\"login\":\"u\"},"
                 "\"created_at\":\"2024-01-02T03:04:05Z\",\"updated_at\":\"2024-01-02T03:04:06Z\"}}");
    /* only the issue object's own members: a nested "issue" elsewhere is not it */
    cut_is("{\"x\":{\"issue\":{\"title\":\"keep\"}},\"issue\":{\"title\":\"T\"}}",
           "{\"x\":{\"issue\":{\"title\":\"keep\"}},\"issue\":{}}");
    /* not an event with an issue object: nothing to cut */
    cut_is("{\"issue\":\"T\"}", NULL);
    cut_is("[1,2]", NULL);
    /* more tokens than fit on the stack */
    strbuf_t big;
    sb_init(&big);
    sb_puts(&big, "{\"issue\":{\"title\":\"T\",\"labels\":[");
    for (int i = 0; i < 3000; i++)
        sb_printf(&big, "%s%d", i ? "," : "", i);
    sb_puts(&big, "]}}");
    size_t n;
    char *out = event_without_text(big.data, big.len, &n);
    assert_non_null(out);
    assert_int_equal(n, big.len - strlen("\"title\":\"T\","));
    assert_null(strstr(out, "title"));
    free(out);
    sb_free(&big);
}

static void test_bad_inputs_named(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(parse("not json", err), -1);
    assert_non_null(strstr(err, "not JSON"));
    assert_int_equal(parse("[1,2]", err), -1);
    assert_non_null(strstr(err, "JSON object"));
    assert_int_equal(parse("{\"event_type\":\"issue\"}", err), -1);
    assert_string_equal(err, "missing field: repository");
    assert_int_equal(parse("{\"event_type\":\"push\"}", err), -1);
    assert_non_null(strstr(err, "unsupported event_type"));
    assert_int_equal(parse("{\"event_type\":\"issue\",\"repository\":{\"full_name\":\"a/b\"},"
                           "\"issue\":{\"id\":\"x\",\"number\":1,\"title\":\"t\"}}", err), -1);
    assert_string_equal(err, "wrong type: issue.id must be a positive integer");
    assert_int_equal(parse("{\"event_type\":\"issue\",\"repository\":{\"full_name\":\"nope\"},"
                           "\"issue\":{\"id\":1,\"number\":1,\"title\":\"t\"}}", err), -1);
    assert_non_null(strstr(err, "owner/name"));
    assert_int_equal(parse("{\"event_type\":\"issue\",\"repository\":{\"full_name\":\"a/b\"},"
                           "\"issue\":{\"id\":1,\"number\":1,\"title\":\"t\",\"updated_at\":\"yesterday\"}}", err), -1);
    assert_non_null(strstr(err, "issue.updated_at must be an ISO 8601"));
    assert_int_equal(parse("{\"event_type\":\"issue\",\"x\":\"\xff\"}", err), -1);
    assert_non_null(strstr(err, "invalid UTF-8"));
}

static void test_oversized(void **state)
{
    (void)state;
    issue_event_t ev;
    char err[256];
    assert_int_equal(issue_event_parse(&ev, GOOD, strlen(GOOD), 100, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "oversized"));
}

static void test_iso8601(void **state)
{
    (void)state;
    assert_true(iso8601_valid("2024-01-02T03:04:05Z"));
    assert_true(iso8601_valid("2024-01-02T03:04:05.123Z"));
    assert_true(iso8601_valid("2024-01-02T03:04:05+02:00"));
    assert_false(iso8601_valid("2024-01-02 03:04:05"));
    assert_false(iso8601_valid("2024-01-02T03:04:05"));
    assert_false(iso8601_valid(""));
    assert_int_equal(iso8601_to_ms("1970-01-01T00:00:01.5Z"), 1500);
    assert_int_equal(iso8601_to_ms("2024-05-01T14:00:00+02:00"), iso8601_to_ms("2024-05-01T12:00:00Z"));
    assert_int_equal(iso8601_to_ms("2024-05-01T09:30:00-02:30"), iso8601_to_ms("2024-05-01T12:00:00Z"));
    assert_int_equal(iso8601_to_ms("yesterday"), -1);
}

/* A malformed event's error says where and what kind, never the text: it
 * goes to logs and DLQ headers, which must not carry titles or bodies. */
static void test_errors_carry_no_issue_text(void **state)
{
    (void)state;
    static const char *bad[] = {
        "{\"event_type\":\"issue\",\"issue\":{\"title\":\"Zanzibar quokka\" \"body\":\"marmalade\"}}",
        "{\"event_type\":\"issue\",\"issue\":{\"title\":Zanzibar quokka}}",
        "{\"event_type\":\"issue\",\"issue\":{\"title\":\"Zanzibar quokka",
        "{\"title\":\"Zanzibar\"} quokka marmalade",
        "Zanzibar quokka marmalade",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256];
        assert_int_equal(parse(bad[i], err), -1);
        assert_non_null(strstr(err, "not JSON"));
        assert_non_null(strstr(err, "line 1 column"));
        assert_null(strstr(err, "Zanzibar"));
        assert_null(strstr(err, "quokka"));
        assert_null(strstr(err, "marmalade"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_event),
        cmocka_unit_test(test_labels_and_assignees),
        cmocka_unit_test(test_text_cut_from_raw_data),
        cmocka_unit_test(test_bad_inputs_named),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_errors_carry_no_issue_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
