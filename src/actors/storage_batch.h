/*
 * storage_batch.h -- when a storage actor writes: a batch goes out when it
 * is full (rows or published marks at [pipeline] storage_batch_size), or
 * when the batching window ([pipeline] storage_batch_window_ms) that the
 * first waiting row opened has passed; never while a retry is scheduled
 * (the retry writes everything). Pure, tested on its own
 * (tests/unit/test_storage_batch.c).
 */
#ifndef DISPATCHD_STORAGE_BATCH_H
#define DISPATCHD_STORAGE_BATCH_H

#include <stdbool.h>

typedef enum {
    BATCH_WAIT,                   /* a window or a retry is running: it will write */
    BATCH_WRITE,                  /* write now */
    BATCH_OPEN_WINDOW,            /* start the window timer */
} batch_action_t;

typedef struct batch_policy {
    int size;                     /* rows (or marks) that fill a batch */
    int window_ms;                /* 0: every arrival writes at once */
} batch_policy_t;

/* After a row or a mark arrived. */
batch_action_t batch_on_arrival(const batch_policy_t *p, int rows, int marks, bool window_open, bool retrying);

#endif
