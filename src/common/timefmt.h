/* timefmt.h -- the one way dispatchd writes a timestamp: ISO 8601 UTC with
 * milliseconds, e.g. 2024-05-01T12:00:00.123Z (events, headers, logs). */
#ifndef DISPATCHD_TIMEFMT_H
#define DISPATCHD_TIMEFMT_H

#include <stddef.h>

#define ISO8601_LEN 32

/* Writes the current time into buf (at least ISO8601_LEN bytes). */
void iso8601_now(char *buf, size_t n);
/* The same for a time in milliseconds since the epoch. */
void iso8601_ms(char *buf, size_t n, long long ms);

#endif
