#include "jwt.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url; returns the decoded length, -1 on a bad character. */
static long b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = memchr(B64URL, in[i], 64);
        if (p == NULL || in[i] == '\0')
            return -1;
        acc = (acc << 6) | (unsigned)(p - B64URL);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

static char *b64url_encode(const unsigned char *in, size_t len)
{
    char *out = malloc(len * 4 / 3 + 4);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = B64URL[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = B64URL[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return out;
}

static json_t *decode_part(const char *in, size_t len)
{
    unsigned char buf[2048];
    long n = b64url_decode(in, len, buf, sizeof(buf));
    return n < 0 ? NULL : json_loadb((const char *)buf, (size_t)n, 0, NULL);
}

int jwt_verify_hs256(const char *token, size_t len, const char *secret, int64_t now_s, char *sub, size_t sublen,
                     char *err, size_t errlen)
{
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
        snprintf(err, errlen, "not a JWT (header.payload.signature)");
        return -1;
    }
    json_t *header = decode_part(token, (size_t)(dot1 - token));
    const char *alg = json_string_value(json_object_get(header, "alg"));
    bool hs256 = alg != NULL && strcmp(alg, "HS256") == 0;
    json_decref(header);
    if (!hs256) {
        snprintf(err, errlen, "the token's header must say alg HS256");
        return -1;
    }
    unsigned char mac[EVP_MAX_MD_SIZE], sig[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)token, (size_t)(dot2 - token), mac,
         &maclen);
    long siglen = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof(sig));
    if (siglen != (long)maclen || CRYPTO_memcmp(sig, mac, maclen) != 0) {
        snprintf(err, errlen, "bad signature");
        return -1;
    }
    json_t *claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    const char *s = json_string_value(json_object_get(claims, "sub"));
    int rc = -1;
    if (claims == NULL)
        snprintf(err, errlen, "the payload is not JSON");
    else if (exp != NULL && (!json_is_number(exp) || json_number_value(exp) <= (double)now_s))
        snprintf(err, errlen, "the token has expired");
    else if (nbf != NULL && (!json_is_number(nbf) || json_number_value(nbf) > (double)now_s))
        snprintf(err, errlen, "the token is not valid yet");
    else if (s == NULL || s[0] == '\0' || strlen(s) >= sublen)
        snprintf(err, errlen, "the token has no usable sub (user id)");
    else {
        snprintf(sub, sublen, "%s", s);
        rc = 0;
    }
    json_decref(claims);
    return rc;
}

char *jwt_sign_hs256(const char *sub, int64_t exp, const char *secret)
{
    const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    json_t *c = exp > 0 ? json_pack("{s:s, s:I}", "sub", sub, "exp", (json_int_t)exp) : json_pack("{s:s}", "sub", sub);
    char *claims = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    char *h = b64url_encode((const unsigned char *)header, strlen(header));
    char *p = b64url_encode((const unsigned char *)claims, strlen(claims));
    free(claims);
    size_t n = strlen(h) + strlen(p) + 2;
    char *signing = malloc(n);
    snprintf(signing, n, "%s.%s", h, p);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)signing, strlen(signing), mac, &maclen);
    char *sig = b64url_encode(mac, maclen);
    size_t total = strlen(signing) + strlen(sig) + 2;
    char *out = malloc(total);
    snprintf(out, total, "%s.%s", signing, sig);
    free(h);
    free(p);
    free(signing);
    free(sig);
    return out;
}
