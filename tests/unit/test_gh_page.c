/* Walking a repository's issues by an updated_at cursor: pull requests
 * skipped and counted, the cursor's instant not taken twice, an issue
 * edited meanwhile taken again in its new version, a page of one instant
 * followed by its Link, the last page, the cursor's round trip through
 * its JSON, and the URL of each request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gh_page.h"

/* A page body: n objects with ids from id0, updated_at from ts[i]; PRs
 * where pr[i]. */
static char *page(int n, long long id0, const char *const *ts, const int *pr)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        json_t *it = json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)(id0 + i), "number",
                               (json_int_t)(id0 + i - 1000), "title", "t", "updated_at", ts[i]);
        if (pr && pr[i])
            json_object_set_new(it, "pull_request", json_pack("{s:s}", "url", "u"));
        json_array_append_new(a, it);
    }
    char *s = json_dumps(a, 0);
    json_decref(a);
    return s;
}

static void test_cursor_moves_and_skips_prs(void **state)
{
    (void)state;
    gh_cursor_t c;
    gh_cursor_init(&c);
    const char *ts[] = {"2024-01-01T00:00:01Z", "2024-01-01T00:00:02Z", "2024-01-01T00:00:03Z",
                        "2024-01-01T00:00:03Z"};
    int pr[] = {0, 1, 0, 0};
    char *b = page(4, 1001, ts, pr);
    gh_page_t p;
    char err[256];
    assert_int_equal(gh_page_take(&p, b, strlen(b), "https://x/next", &c, err, sizeof(err)), 0);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.prs, 1);
    assert_int_equal(p.issues, 3);
    assert_int_equal(p.items[0].id, 1001);
    assert_int_equal(p.items[1].id, 1003);
    assert_int_equal(p.items[2].number, 4);
    assert_string_equal(c.since, "2024-01-01T00:00:03Z");
    assert_int_equal(c.nboundary, 2);   /* both of the newest instant */
    assert_string_equal(c.next_url, ""); /* the cursor moved: the next request is since= */
    assert_false(c.done);
    gh_page_free(&p);
    free(b);

    /* The next page repeats the instant: those two are not taken again,
     * an issue edited meanwhile (1001, newer) is. */
    const char *ts2[] = {"2024-01-01T00:00:03Z", "2024-01-01T00:00:03Z", "2024-01-01T00:00:09Z"};
    json_t *a = json_array();
    json_array_append_new(a, json_pack("{s:I, s:I, s:s}", "id", 1003, "number", 3, "updated_at", ts2[0]));
    json_array_append_new(a, json_pack("{s:I, s:I, s:s}", "id", 1004, "number", 4, "updated_at", ts2[1]));
    json_array_append_new(a, json_pack("{s:I, s:I, s:s}", "id", 1001, "number", 1, "updated_at", ts2[2]));
    b = json_dumps(a, 0);
    json_decref(a);
    assert_int_equal(gh_page_take(&p, b, strlen(b), NULL, &c, err, sizeof(err)), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.repeats, 2);
    assert_int_equal(p.items[0].id, 1001);
    assert_string_equal(p.items[0].updated_at, "2024-01-01T00:00:09Z");
    assert_true(c.done);   /* no rel="next": the last page */
    gh_page_free(&p);
    free(b);
    gh_cursor_free(&c);
}

static void test_one_instant_follows_link(void **state)
{
    (void)state;
    gh_cursor_t c;
    gh_cursor_init(&c);
    snprintf(c.since, sizeof(c.since), "2024-01-01T00:00:05Z");
    const char *ts[3] = {"2024-01-01T00:00:05Z", "2024-01-01T00:00:05Z", "2024-01-01T00:00:05Z"};
    char *b = page(3, 2001, ts, NULL);
    gh_page_t p;
    char err[256];
    assert_int_equal(gh_page_take(&p, b, strlen(b), "https://x/issues?since=T&page=2", &c, err, sizeof(err)), 0);
    assert_int_equal(p.n, 3);
    assert_string_equal(c.next_url, "https://x/issues?since=T&page=2");
    assert_int_equal(c.nboundary, 3);
    char url[GH_URL_MAX];
    assert_int_equal(gh_cursor_url(&c, "http://h", "o", "r", url, sizeof(url)), 0);
    assert_string_equal(url, "https://x/issues?since=T&page=2");
    gh_page_free(&p);
    free(b);
    gh_cursor_free(&c);
}

static void test_bad_bodies(void **state)
{
    (void)state;
    gh_cursor_t c;
    gh_cursor_init(&c);
    gh_page_t p;
    char err[256];
    assert_int_equal(gh_page_take(&p, "{\"message\":\"x\"}", 15, NULL, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a JSON array"));
    assert_int_equal(gh_page_take(&p, "[1,", 3, NULL, &c, err, sizeof(err)), -1);
    assert_false(c.done);   /* unchanged */
    const char *b = "[{\"id\":1},{\"id\":2,\"number\":2,\"updated_at\":\"yesterday\"},"
                    "{\"id\":3,\"number\":3,\"updated_at\":\"2024-01-01T00:00:00Z\"}]";
    assert_int_equal(gh_page_take(&p, b, strlen(b), NULL, &c, err, sizeof(err)), 0);
    assert_int_equal(p.invalid, 2);
    assert_int_equal(p.n, 1);
    gh_page_free(&p);
    /* an empty page ends the walk whatever its Link says */
    gh_cursor_init(&c);
    assert_int_equal(gh_page_take(&p, "[]", 2, "https://x/next", &c, err, sizeof(err)), 0);
    assert_true(c.done);
    gh_page_free(&p);
    gh_cursor_free(&c);
}

static void test_cursor_json_and_url(void **state)
{
    (void)state;
    gh_cursor_t c, d;
    gh_cursor_init(&c);
    gh_cursor_init(&d);
    char url[GH_URL_MAX];
    assert_int_equal(gh_cursor_url(&c, "http://127.0.0.1:9/", "acme", "api", url, sizeof(url)), 0);
    assert_string_equal(url,
                        "http://127.0.0.1:9/repos/acme/api/issues?state=all&per_page=100&sort=updated&direction=asc");
    snprintf(c.since, sizeof(c.since), "2024-05-01T12:00:00Z");
    long long ids[] = {7, 8};
    c.boundary = malloc(sizeof(ids));
    memcpy(c.boundary, ids, sizeof(ids));
    c.nboundary = c.cap = 2;
    assert_int_equal(gh_cursor_url(&c, "https://api.github.com", "acme", "api", url, sizeof(url)), 0);
    assert_string_equal(url, "https://api.github.com/repos/acme/api/issues?state=all&per_page=100&sort=updated"
                             "&direction=asc&since=2024-05-01T12%3A00%3A00Z");
    char *j = gh_cursor_dump(&c);
    assert_int_equal(gh_cursor_load(&d, j), 0);
    assert_string_equal(d.since, c.since);
    assert_int_equal(d.nboundary, 2);
    assert_int_equal(d.boundary[1], 8);
    free(j);
    assert_int_equal(gh_cursor_load(&d, "{\"since\":1}"), -1);
    assert_int_equal(gh_cursor_load(&d, NULL), -1);
    assert_int_equal(gh_cursor_url(&c, "https://api.github.com", "acme", "api", url, 40), -1);
    assert_int_equal(gh_count_url("https://ghe.example/api/v3//", "acme", "api", url, sizeof(url)), 0);
    assert_string_equal(url, "https://ghe.example/api/v3/search/issues?q=repo:acme/api+is:issue&per_page=1");
    assert_int_equal(gh_count_url("https://api.github.com", "acme", "api", url, 30), -1);
    gh_cursor_free(&c);
    gh_cursor_free(&d);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(gh_name_valid("acme", strlen("acme")));
    assert_true(gh_name_valid("my-repo.js_2", strlen("my-repo.js_2")));
    assert_false(gh_name_valid("", strlen("")));
    assert_false(gh_name_valid("..", strlen("..")));
    assert_false(gh_name_valid("a/b", strlen("a/b")));
    assert_false(gh_name_valid("a?b", strlen("a?b")));
    assert_false(gh_name_valid("a%2Fb", strlen("a%2Fb")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_moves_and_skips_prs),
        cmocka_unit_test(test_one_instant_follows_link),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_cursor_json_and_url),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
