#include "timefmt.h"

#include <stdio.h>
#include <time.h>

void iso8601_ms(char *buf, size_t n, long long ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%03lldZ", ms % 1000);
}

void iso8601_now(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    iso8601_ms(buf, n, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000L);
}
