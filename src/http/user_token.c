#include "user_token.h"

#include <jansson.h>
#include <jwt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NumericDate claim: absent (false, *present = false), a number (true),
 * or anything else (false, *present = true). */
static bool numeric_claim(jwt_t *jwt, const char *name, bool *present, double *value)
{
    *present = false;
    char *text = jwt_get_grants_json(jwt, name);
    if (text == NULL)
        return false;
    *present = true;
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    free(text);
    bool ok = json_is_number(v);
    if (ok)
        *value = json_number_value(v);
    json_decref(v);
    return ok;
}

int user_token_read(const char *token, size_t len, const char *secret, int64_t now_s, int leeway_s,
                    user_token_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    /* libjwt reads a C string: a token with a NUL inside is not one. */
    if (len == 0 || len > 8192 || memchr(token, '\0', len) != NULL) {
        snprintf(err, errlen, "not a JWT (header.payload.signature)");
        return -1;
    }
    char *copy = strndup(token, len);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int dots = 0;
    for (size_t i = 0; i < len; i++)
        dots += copy[i] == '.';
    jwt_t *jwt = NULL;
    /* libjwt checks the signature by encoding its own MAC and comparing the
     * text, so a non-canonical encoding of the right MAC is refused too. */
    int rc = dots == 2 ? jwt_decode(&jwt, copy, (const unsigned char *)secret, (int)strlen(secret)) : -1;
    free(copy);
    if (dots != 2) {
        snprintf(err, errlen, "not a JWT (header.payload.signature)");
        return -1;
    }
    if (rc != 0 || jwt == NULL) {
        snprintf(err, errlen, "bad signature or malformed token");
        return -1;
    }
    int result = -1;
    bool exp_present, nbf_present;
    double exp = 0, nbf = 0;
    bool exp_ok = numeric_claim(jwt, "exp", &exp_present, &exp);
    bool nbf_ok = numeric_claim(jwt, "nbf", &nbf_present, &nbf);
    const char *s = jwt_get_grant(jwt, "sub");
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        snprintf(err, errlen, "the token's header must say alg HS256");
    else if (!exp_present)
        snprintf(err, errlen, "the token has no exp");
    else if (!exp_ok || exp + leeway_s <= (double)now_s)
        snprintf(err, errlen, "the token has expired");
    else if (nbf_present && (!nbf_ok || nbf - leeway_s > (double)now_s))
        snprintf(err, errlen, "the token is not valid yet");
    else if (s == NULL || s[0] == '\0' || strlen(s) >= sizeof(out->sub))
        snprintf(err, errlen, "the token has no usable sub (user id)");
    else {
        snprintf(out->sub, sizeof(out->sub), "%s", s);
        out->exp = (int64_t)exp;
        out->repos_json = jwt_get_grants_json(jwt, "repos");
        result = 0;
    }
    jwt_free(jwt);
    return result;
}

void user_token_clear(user_token_t *t)
{
    free(t->repos_json);
    t->repos_json = NULL;
}

int user_token_verify(const char *token, size_t len, const char *secret, int64_t now_s, int leeway_s, char *sub,
                      size_t sublen, char *err, size_t errlen)
{
    user_token_t t;
    if (user_token_read(token, len, secret, now_s, leeway_s, &t, err, errlen) != 0)
        return -1;
    int rc = 0;
    if (strlen(t.sub) >= sublen) {
        snprintf(err, errlen, "the token has no usable sub (user id)");
        rc = -1;
    } else {
        snprintf(sub, sublen, "%s", t.sub);
    }
    user_token_clear(&t);
    return rc;
}

char *user_token_sign(const char *sub, int64_t exp, const char *repos_json, const char *secret)
{
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return NULL;
    char *out = NULL;
    char grants[8192];
    if (repos_json != NULL)
        snprintf(grants, sizeof(grants), "{\"repos\":%s}", repos_json);
    if (jwt_add_grant(jwt, "sub", sub) == 0 && (exp <= 0 || jwt_add_grant_int(jwt, "exp", (long)exp) == 0) &&
        (repos_json == NULL || jwt_add_grants_json(jwt, grants) == 0) &&
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) == 0)
        out = jwt_encode_str(jwt);
    jwt_free(jwt);
    return out;
}
