/*
 * wakeup.h -- a wake-up flag one thread sleeps on (with a timeout) and any
 * thread sets. The poller sleeps on one instead of inside librdkafka, so
 * that data arriving on any partition queue, a rebalance event, or a
 * partition-consumer with room again ends its wait at once.
 */
#ifndef DISPATCHD_WAKEUP_H
#define DISPATCHD_WAKEUP_H

#include <pthread.h>
#include <stdbool.h>

typedef struct wakeup {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool pending;
} wakeup_t;

void wakeup_init(wakeup_t *w);
void wakeup_destroy(wakeup_t *w);
/* Sets the flag; wakes the sleeper if there is one. Safe from any thread. */
void wakeup_signal(wakeup_t *w);
/* Returns at once if the flag is set, else after a signal or timeout_ms;
 * clears the flag. */
void wakeup_wait(wakeup_t *w, int timeout_ms);

#endif
