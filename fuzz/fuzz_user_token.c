/* The user-token verifier: any bytes as a bearer token. Only a token signed
 * with the secret may pass; the fuzzer cannot forge one. */
#include <stdint.h>

#include "user_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char sub[256], err[128];
    if (user_token_verify((const char *)data, size, "fuzz-secret", 1800000000, 30, sub, sizeof(sub), err,
                          sizeof(err)) == 0)
        __builtin_trap();
    return 0;
}
