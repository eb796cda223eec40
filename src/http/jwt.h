/*
 * jwt.h -- user tokens on /repos/... and /ws (CONTRACT section 5): compact
 * JWS, HS256 only, signed with DISPATCHD_JWT_SECRET; `sub` is the user id.
 * `exp` and `nbf`, when present, are honoured.
 */
#ifndef DISPATCHD_JWT_H
#define DISPATCHD_JWT_H

#include <stddef.h>
#include <stdint.h>

/* 0 with the user id in sub, or -1 with why the token is refused. now_s is
 * the current Unix time (a parameter, so tests can move it). */
int jwt_verify_hs256(const char *token, size_t len, const char *secret, int64_t now_s, char *sub, size_t sublen,
                     char *err, size_t errlen);

/* Signs {"sub": sub, "exp": exp} (exp 0: none), for tests and tools; the
 * caller frees the result. */
char *jwt_sign_hs256(const char *sub, int64_t exp, const char *secret);

#endif
