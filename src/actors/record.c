#include "record.h"

#include <stdlib.h>
#include <time.h>

uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void record_free(record_t *r)
{
    issue_event_free(&r->event);
    if (r->rkm)
        rd_kafka_message_destroy(r->rkm);
    rt_msg_free(r);
}

void record_done(record_t *r)
{
    r->hdr.type = MSG_DONE;
    rt_send_force(r->owner, r);
}
