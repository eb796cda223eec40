/* The webhook delivery: signature check, then body handling. The first
 * byte picks the event header and whether the signature is the right one
 * (so the body handling behind the check is reached too). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook_delivery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const events[] = {"issues", "issue_comment", "ping", "push", NULL};
    uint8_t sel = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char sig[80];
    webhook_signature("fuzz-secret", body, len, sig);
    if (sel & 0x80)
        sig[7] ^= 1;   /* a wrong signature must be refused */
    webhook_delivery_t in = {.secret = "fuzz-secret", .body = body, .len = len, .signature = sig,
                             .event = events[sel % 5], .max_event_bytes = 1 << 20,
                             .timestamp = "2024-01-01T00:00:00.000Z"};
    webhook_outcome_t out;
    webhook_delivery_decide(&in, &out);
    if ((sel & 0x80) && out.status != 401)
        __builtin_trap();
    if (out.publish && (out.value == NULL || out.key[0] == '\0'))
        __builtin_trap();
    free(out.value);
    return 0;
}
