/* The offset-map decoder: commit metadata from Kafka, written by any
 * version or by hand. Decoded maps re-encode and decode to the same set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "offset_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *meta = malloc(size + 1);
    memcpy(meta, data, size);
    meta[size] = '\0';
    offset_map_t m, again;
    offset_map_init(&m);
    offset_map_init(&again);
    if (offset_map_decode(&m, 1000, meta) == 0) {
        char enc[65536];
        if (offset_map_encode(&m, 1000, enc, sizeof(enc)) >= 0 && offset_map_decode(&again, 1000, enc) == 0) {
            for (int64_t o = 1000; o < 1300; o++)
                if (offset_map_contains(&m, o) != offset_map_contains(&again, o))
                    __builtin_trap();
        }
    }
    offset_map_free(&m);
    offset_map_free(&again);
    free(meta);
    return 0;
}
