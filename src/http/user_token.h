/*
 * user_token.h -- user tokens on /repos/... and /ws: compact JWS, HS256
 * only, signed with DISPATCHD_JWT_SECRET; `sub` is the user id and `exp` is
 * required. Decoding and the signature check are libjwt's; the algorithm
 * pin and the claims' rules are ours.
 */
#ifndef DISPATCHD_USER_TOKEN_H
#define DISPATCHD_USER_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/* A verified token's claims. */
typedef struct user_token {
    char sub[256];                /* the user id */
    int64_t exp;                  /* Unix seconds */
    char *repos_json;             /* the `repos` claim's JSON text, NULL when absent */
} user_token_t;

/* 0 with the claims in *out (user_token_clear() after), or -1 with why the
 * token is refused. now_s is the current Unix time (a parameter, so tests
 * can move it); leeway_s is the clock skew allowed on `exp` and `nbf`. */
int user_token_read(const char *token, size_t len, const char *secret, int64_t now_s, int leeway_s,
                    user_token_t *out, char *err, size_t errlen);
void user_token_clear(user_token_t *t);

/* The same check, for callers that need only the user id. */
int user_token_verify(const char *token, size_t len, const char *secret, int64_t now_s, int leeway_s, char *sub,
                      size_t sublen, char *err, size_t errlen);

/* Signs {"sub": sub, "exp": exp} (exp 0: no exp claim, which verification
 * refuses), with a `repos` claim when repos_json (a JSON array's text) is
 * not NULL, for tests and tools; the caller frees the result. */
char *user_token_sign(const char *sub, int64_t exp, const char *repos_json, const char *secret);

#endif
