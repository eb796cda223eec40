/* The RFC 4180 reader (training files): any bytes read to the end, each
 * record either whole or refused with where. */
#include <stdint.h>
#include <stdio.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "r");
    if (f == NULL)
        return 0;
    csv_reader_t r;
    csv_open(&r, f);
    csv_record_t rec;
    char err[256];
    for (int i = 0; i < 10000 && csv_read(&r, &rec, err, sizeof(err)) == 1; i++)
        if (rec.n < 0 || rec.n > CSV_MAX_FIELDS)
            __builtin_trap();
    csv_close(&r);
    fclose(f);
    return 0;
}
