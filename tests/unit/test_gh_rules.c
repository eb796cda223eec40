/* The rules of talking to GitHub: the next page from Link only, and when
 * the next request may go -- the primary limit's reset (+1 s), a secondary
 * limit's retry-after or a doubling wait from a minute, backoff for 5xx
 * and no answer -- and when a sync gives up, with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gh_rules.h"

static void test_link(void **state)
{
    (void)state;
    char url[256];
    const char *l = "<https://api.github.com/repositories/1/issues?state=all&page=2>; rel=\"next\", "
                    "<https://api.github.com/repositories/1/issues?state=all&page=34>; rel=\"last\"";
    assert_true(gh_link(l, "next", url, sizeof(url)));
    assert_string_equal(url, "https://api.github.com/repositories/1/issues?state=all&page=2");
    assert_true(gh_link(l, "last", url, sizeof(url)));
    assert_string_equal(url, "https://api.github.com/repositories/1/issues?state=all&page=34");
    assert_false(gh_link(l, "prev", url, sizeof(url)));
    /* the last page: no next */
    assert_false(gh_link("<https://x/issues?page=1>; rel=\"first\", <https://x/issues?page=33>; rel=\"prev\"", "next",
                         url, sizeof(url)));
    /* parameter order, spacing, case, several relation types, unquoted */
    assert_true(gh_link("<https://x/a>; title=\"p\" ; REL = \"prev next\"", "next", url, sizeof(url)));
    assert_string_equal(url, "https://x/a");
    assert_true(gh_link("<https://x/b>;rel=next", "next", url, sizeof(url)));
    assert_string_equal(url, "https://x/b");
    assert_false(gh_link("<https://x/c>; rel=\"nextpage\"", "next", url, sizeof(url)));   /* whole words */
    assert_false(gh_link("<https://x/d>; rel=\"next\"", "next", url, 5));                 /* does not fit */
    assert_false(gh_link("", "next", url, sizeof(url)));
    assert_false(gh_link("<unterminated; rel=\"next\"", "next", url, sizeof(url)));
}

static gh_answer_t answer(long status, const char *const *headers)
{
    gh_answer_t a;
    gh_answer_init(&a);
    a.status = status;
    for (int i = 0; headers[i] != NULL; i++)
        gh_answer_header(&a, headers[i], strlen(headers[i]));
    return a;
}

static void test_headers(void **state)
{
    (void)state;
    const char *h[] = {"X-RateLimit-Remaining: 42\r\n", "x-ratelimit-reset:1700000000", "Retry-After: 30 ",
                       "x-ratelimit-used: 7", NULL};
    gh_answer_t a = answer(200, h);
    assert_int_equal(a.remaining, 42);
    assert_int_equal(a.reset_s, 1700000000);
    assert_int_equal(a.retry_after_s, 30);
    const char *bad[] = {"x-ratelimit-remaining: -3", "retry-after: Wed, 21 Oct 2026 07:28:00 GMT", NULL};
    a = answer(200, bad);
    assert_int_equal(a.remaining, -1);      /* unreadable: as if absent */
    assert_int_equal(a.retry_after_s, -1);
}

static void test_judge(void **state)
{
    (void)state;
    gh_retry_t r = {0, 0};
    uint64_t rng = 1, wait;
    char why[128];
    const int64_t now = 1700000000;
    const char *ok[] = {"x-ratelimit-remaining: 10", "x-ratelimit-reset: 1700000600", NULL};
    gh_answer_t a = answer(200, ok);
    assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, why, sizeof(why)), GH_GO);
    assert_int_equal(wait, 0);
    /* the answer that spent the last request: usable, then nothing until reset + 1 s */
    const char *last[] = {"x-ratelimit-remaining: 0", "x-ratelimit-reset: 1700000600", NULL};
    a = answer(200, last);
    assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, why, sizeof(why)), GH_GO);
    assert_int_equal(wait, 601000);
    a = answer(304, last);
    assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, NULL, 0), GH_GO);
    /* primary limit: 403 with remaining 0 waits for the reset, any number of times */
    for (int i = 0; i < 20; i++) {
        a = answer(403, last);
        assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, why, sizeof(why)), GH_RETRY);
        assert_int_equal(wait, 601000);
    }
    assert_non_null(strstr(why, "primary"));
    /* secondary limit with retry-after: that long; without: 60 s doubling; then give up */
    const char *ra[] = {"retry-after: 17", "x-ratelimit-remaining: 300", NULL};
    a = answer(403, ra);
    assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, why, sizeof(why)), GH_RETRY);
    assert_int_equal(wait, 17000);
    const char *none[] = {"x-ratelimit-remaining: 300", NULL};
    uint64_t expect[] = {120000, 240000, 480000, 960000, 1920000};
    for (int i = 0; i < 5; i++) {
        a = answer(429, none);
        assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, why, sizeof(why)), GH_RETRY);
        assert_int_equal(wait, expect[i]);   /* the second in a row already: 60 s x 2 */
    }
    a = answer(403, none);
    assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, why, sizeof(why)), GH_GIVE_UP);
    assert_non_null(strstr(why, "secondary"));
    /* a good answer resets the count */
    a = answer(200, ok);
    gh_judge(&a, now, &r, &rng, &wait, NULL, 0);
    a = answer(403, none);
    assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, NULL, 0), GH_RETRY);
    assert_int_equal(wait, 60000);
    /* 5xx and no answer: backoff, then give up */
    r = (gh_retry_t){0, 0};
    int retries = 0;
    for (;;) {
        a = answer(retries % 2 ? 0 : 502, none);
        gh_verdict_t v = gh_judge(&a, now, &r, &rng, &wait, why, sizeof(why));
        if (v == GH_GIVE_UP)
            break;
        assert_int_equal(v, GH_RETRY);
        assert_true(wait >= 500 && wait <= 60000);
        retries++;
    }
    assert_int_equal(retries, 7);   /* BACKOFF_GITHUB: 8 attempts in all */
    assert_non_null(strstr(why, "in a row"));
    /* what asking again cannot change */
    a = answer(404, none);
    assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, why, sizeof(why)), GH_GIVE_UP);
    assert_non_null(strstr(why, "404"));
    a = answer(401, none);
    assert_int_equal(gh_judge(&a, now, &r, &rng, &wait, why, sizeof(why)), GH_GIVE_UP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_judge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
