/* Who sees what on /ws: the repos claim (exact and owner/\*), one's own
 * syncs, the admin, narrowing filters, and sync_* events only to the
 * sync's user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ws_access.h"

static void test_claims(void **state)
{
    (void)state;
    ws_access_t a;
    char err[200];
    ws_access_init(&a, false, "alice");
    assert_int_equal(ws_access_add_claim(&a, "acme/api", err, sizeof(err)), 0);
    assert_int_equal(ws_access_add_claim(&a, "tools/*", err, sizeof(err)), 0);
    assert_true(ws_access_sees_issue(&a, "acme/api", ""));
    assert_true(ws_access_sees_issue(&a, "ACME/Api", ""));          /* GitHub names ignore case */
    assert_false(ws_access_sees_issue(&a, "acme/web", ""));
    assert_true(ws_access_sees_issue(&a, "tools/anything", ""));
    assert_false(ws_access_sees_issue(&a, "toolsx/anything", ""));   /* owner matched whole */
    assert_false(ws_access_sees_issue(&a, "acme/api2", ""));
    assert_false(ws_access_sees_issue(&a, NULL, ""));
    ws_access_free(&a);
}

static void test_malformed_claims_grant_nothing(void **state)
{
    (void)state;
    ws_access_t a;
    char err[200];
    ws_access_init(&a, false, "bob");
    const char *bad[] = {"*", "*/*", "acme", "acme/", "/api", "acme/api/x", "a b/c", "acme/*x", "../x", "acme/..", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ws_access_add_claim(&a, bad[i], err, sizeof(err)), -1);
    assert_int_equal(a.nclaims, 0);
    assert_false(ws_access_sees_issue(&a, "acme/api", ""));
    ws_access_free(&a);
}

static void test_own_syncs_and_sync_events(void **state)
{
    (void)state;
    ws_access_t alice, bob, admin;
    char err[200];
    ws_access_init(&alice, false, "alice");
    ws_access_init(&bob, false, "bob");
    ws_access_init(&admin, true, NULL);
    assert_int_equal(ws_access_add_claim(&bob, "acme/*", err, sizeof(err)), 0);
    /* alice has no claim but sees the issues her own sync brought */
    assert_true(ws_access_sees_issue(&alice, "acme/api", "alice"));
    assert_false(ws_access_sees_issue(&alice, "acme/api", "bob"));
    assert_false(ws_access_sees_issue(&alice, "acme/api", ""));
    /* sync_* events: the sync's user only, whatever the claims; the admin too */
    assert_true(ws_access_sees_sync(&alice, "acme/api", "alice"));
    assert_false(ws_access_sees_sync(&bob, "acme/api", "alice"));   /* bob may see acme's issues, not alice's sync */
    assert_true(ws_access_sees_sync(&admin, "acme/api", "alice"));
    assert_true(ws_access_sees_issue(&admin, "any/thing", ""));
    ws_access_free(&alice);
    ws_access_free(&bob);
    ws_access_free(&admin);
}

static void test_narrowing_only_removes(void **state)
{
    (void)state;
    ws_access_t a;
    char err[200];
    ws_access_init(&a, false, "carol");
    assert_int_equal(ws_access_add_claim(&a, "acme/*", err, sizeof(err)), 0);
    assert_int_equal(ws_access_add_narrow(&a, "acme/api", err, sizeof(err)), 0);
    assert_int_equal(ws_access_add_narrow(&a, "other/repo", err, sizeof(err)), 0);   /* allowed, adds nothing */
    assert_int_equal(ws_access_add_narrow(&a, "acme/*", err, sizeof(err)), -1);      /* filters are exact */
    assert_int_equal(ws_access_add_narrow(&a, "nope", err, sizeof(err)), -1);
    assert_true(ws_access_sees_issue(&a, "acme/api", ""));
    assert_false(ws_access_sees_issue(&a, "acme/web", ""));     /* claimed, but filtered out */
    assert_false(ws_access_sees_issue(&a, "other/repo", ""));   /* in the filter, not claimed */
    assert_true(ws_access_sees_issue(&a, "other/repo", "carol"));   /* her own sync's */
    assert_false(ws_access_sees_sync(&a, "acme/web", "carol"));   /* filtered out */
    ws_access_free(&a);
}

static void test_claims_from_the_token(void **state)
{
    (void)state;
    ws_access_t a;
    char err[200];
    ws_access_init(&a, false, "dan");
    assert_int_equal(ws_access_add_claims_json(&a, "[\"acme/api\", \"tools/*\"]", err, sizeof(err)), 0);
    assert_int_equal(a.nclaims, 2);
    assert_true(ws_access_sees_issue(&a, "tools/x", ""));
    ws_access_free(&a);
    ws_access_init(&a, false, "dan");
    assert_int_equal(ws_access_add_claims_json(&a, NULL, err, sizeof(err)), 0);   /* none: nothing */
    assert_false(ws_access_sees_issue(&a, "acme/api", ""));
    const char *bad[] = {"\"acme/api\"", "{\"acme/api\":1}", "[1]", "[\"acme\"]", "[\"ok/ok\", null]", "not json"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ws_access_init(&a, false, "dan");
        assert_int_equal(ws_access_add_claims_json(&a, bad[i], err, sizeof(err)), -1);
        ws_access_free(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_malformed_claims_grant_nothing),
        cmocka_unit_test(test_own_syncs_and_sync_events),
        cmocka_unit_test(test_narrowing_only_removes),
        cmocka_unit_test(test_claims_from_the_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
