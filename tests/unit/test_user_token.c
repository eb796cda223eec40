/* HS256 user tokens: a good token gives its sub; a wrong secret, another
 * algorithm (none, HS512), a tampered payload, a non-canonical signature
 * encoding, a missing or non-numeric exp, an expired or not-yet-valid token
 * (past the leeway), a missing sub and malformed input are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "user_token.h"

#define NOW 1800000000
#define LEEWAY 30

static int verify(const char *tok, const char *secret, char *sub, char *err)
{
    return user_token_verify(tok, strlen(tok), secret, NOW, LEEWAY, sub, 64, err, 128);
}

static void test_good_token(void **state)
{
    (void)state;
    char sub[64], err[128];
    char *t = user_token_sign("user-42", NOW + 60, NULL, "s3cret");
    assert_int_equal(verify(t, "s3cret", sub, err), 0);
    assert_string_equal(sub, "user-42");
    free(t);
    /* Made elsewhere (python hmac/base64url): {"sub":"alice","exp":1800000100}. */
    const char *ext = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTgwMDAwMDEwMH0."
                      "N0l9DYtxVv8fOk6vOvtXlccdkt_38E5Hm1jgi-STXco";
    assert_int_equal(verify(ext, "k", sub, err), 0);
    assert_string_equal(sub, "alice");
}

static void test_leeway(void **state)
{
    (void)state;
    char sub[64], err[128];
    char *t = user_token_sign("u", NOW - LEEWAY + 1, NULL, "s");   /* expired 29 s ago: within the leeway */
    assert_int_equal(verify(t, "s", sub, err), 0);
    free(t);
    t = user_token_sign("u", NOW - LEEWAY, NULL, "s");
    assert_int_equal(verify(t, "s", sub, err), -1);
    assert_string_equal(err, "the token has expired");
    free(t);
    /* nbf 20 s ahead: clock skew, accepted; 40 s ahead: refused.
     * {"sub":"u","exp":1800003600,"nbf":1800000020} and nbf 1800000040, key "k". */
    const char *soon = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAzNjAwLCJuYmYiOjE4MDAwMDAwMjB9."
                       "82aPdar8OkT4O3Kjt-L_aal7vO2VmKJCubZysix6XPc";
    assert_int_equal(verify(soon, "k", sub, err), 0);
    const char *later = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxODAwMDAzNjAwLCJuYmYiOjE4MDAwMDAwNDB9."
                        "Tt8SGkPesJnnLnU9RUPQ5KYTlwx5ZndnEQ__1cmSR9Q";
    assert_int_equal(verify(later, "k", sub, err), -1);
    assert_string_equal(err, "the token is not valid yet");
}

static void test_refusals(void **state)
{
    (void)state;
    char sub[64], err[128];
    char *t = user_token_sign("user-42", NOW + 60, NULL, "s3cret");
    assert_int_equal(verify(t, "other", sub, err), -1);
    /* tamper: change one payload character */
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t, "s3cret", sub, err), -1);
    free(t);
    /* non-canonical: the signature's last character differs only in the two
     * bits base64url leaves unused; the MAC decodes the same. */
    t = user_token_sign("user-42", NOW + 60, NULL, "s3cret");
    assert_int_equal(verify(t, "s3cret", sub, err), 0);
    static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *last = t + strlen(t) - 1;
    *last = B64[(strchr(B64, *last) - B64) ^ 1];
    assert_int_equal(verify(t, "s3cret", sub, err), -1);
    free(t);
    /* no exp */
    t = user_token_sign("user-42", 0, NULL, "s3cret");
    assert_int_equal(verify(t, "s3cret", sub, err), -1);
    assert_string_equal(err, "the token has no exp");
    free(t);
    /* exp as a string: {"sub":"u","exp":"1900000000"}, key "k" */
    const char *sexp = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoiMTkwMDAwMDAwMCJ9."
                       "9Pjj_Cg3I1KIhJ4QR8JY0OOEX1qRRA2alrdzX3_L77E";
    assert_int_equal(verify(sexp, "k", sub, err), -1);
    assert_string_equal(err, "the token has expired");
    /* HS512, correctly signed with the same key: the algorithm is pinned.
     * {"sub":"u","exp":1900000000} */
    const char *hs512 = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1IiwiZXhwIjoxOTAwMDAwMDAwfQ."
                        "cjhZfG9Y3Zmj4h9FxHTL-rteK9U0stv2O1esSPZJTZNSzzvxYxN97H1d_udra6G9A0Es_R1xE8zQ8u0H4-hmtQ";
    assert_int_equal(verify(hs512, "k", sub, err), -1);
    assert_string_equal(err, "the token's header must say alg HS256");
    /* alg none */
    const char *none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiZXhwIjoxOTAwMDAwMDAwfQ.";
    assert_int_equal(verify(none, "s3cret", sub, err), -1);
    /* no sub: {"exp":1900000000} */
    const char *nosub = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE5MDAwMDAwMDB9."
                        "d_qyBknUbILQ6ZTzcCnaKLIXTyjyU9rO73Z2IhJ-FnQ";
    assert_int_equal(verify(nosub, "k", sub, err), -1);
    assert_string_equal(err, "the token has no usable sub (user id)");
    assert_int_equal(verify("abc", "s3cret", sub, err), -1);
    assert_int_equal(verify("a.b.c.d", "s3cret", sub, err), -1);
    assert_int_equal(verify("!!.??.**", "s3cret", sub, err), -1);
    assert_int_equal(user_token_verify("a.b\0.c", 6, "s", NOW, LEEWAY, sub, 64, err, 128), -1);
}

/* The claims /ws needs: exp, to close a socket when it passes, and repos. */
static void test_claims_for_ws(void **state)
{
    (void)state;
    char *t = user_token_sign("user-7", NOW + 90, "[\"acme/api\",\"tools/*\"]", "s3cret");
    assert_non_null(t);
    user_token_t tok;
    char err[128];
    assert_int_equal(user_token_read(t, strlen(t), "s3cret", NOW, LEEWAY, &tok, err, sizeof(err)), 0);
    assert_string_equal(tok.sub, "user-7");
    assert_int_equal(tok.exp, NOW + 90);
    assert_non_null(tok.repos_json);
    json_t *r = json_loads(tok.repos_json, 0, NULL);
    assert_int_equal(json_array_size(r), 2);
    assert_string_equal(json_string_value(json_array_get(r, 1)), "tools/*");
    json_decref(r);
    user_token_clear(&tok);
    free(t);
    t = user_token_sign("user-7", NOW + 90, NULL, "s3cret");
    assert_int_equal(user_token_read(t, strlen(t), "s3cret", NOW, LEEWAY, &tok, err, sizeof(err)), 0);
    assert_null(tok.repos_json);   /* no claim: no repositories */
    user_token_clear(&tok);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good_token), cmocka_unit_test(test_leeway),
                                       cmocka_unit_test(test_refusals), cmocka_unit_test(test_claims_for_ws)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
