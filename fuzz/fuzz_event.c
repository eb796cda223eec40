/* The issues.raw event parser and validator: any bytes either parse into an
 * event whose key can be written, or are refused with an error that quotes
 * none of the input. */
#include <stdint.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    issue_event_t ev;
    char err[256], key[320];
    if (issue_event_parse(&ev, (const char *)data, size, 1 << 20, err, sizeof(err)) == 0) {
        issue_event_key(&ev, key, sizeof(key));
        issue_event_free(&ev);
    } else if (strlen(err) >= sizeof(err)) {
        __builtin_trap();
    }
    return 0;
}
