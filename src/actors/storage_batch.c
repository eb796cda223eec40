/*
 * storage_batch.c -- see storage_batch.h.
 */
#include "storage_batch.h"

batch_action_t batch_on_arrival(const batch_policy_t *p, int rows, int marks, bool window_open, bool retrying)
{
    if (rows >= p->size || marks >= p->size)
        return BATCH_WRITE;   /* a full batch goes now; flush() itself waits out a retry */
    if (window_open || retrying)
        return BATCH_WAIT;
    return p->window_ms == 0 ? BATCH_WRITE : BATCH_OPEN_WINDOW;
}
