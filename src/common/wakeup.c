#include "wakeup.h"

#include <time.h>

#include "runtime.h"

void wakeup_init(wakeup_t *w)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);   /* wall-clock steps do not stretch a wait */
    pthread_cond_init(&w->cond, &a);
    pthread_condattr_destroy(&a);
    pthread_mutex_init(&w->lock, NULL);
    w->pending = false;
}

void wakeup_destroy(wakeup_t *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

void wakeup_signal(wakeup_t *w)
{
    pthread_mutex_lock(&w->lock);
    if (!w->pending) {
        w->pending = true;
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
}

void wakeup_wait(wakeup_t *w, int timeout_ms)
{
    struct timespec until = rt_deadline(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&w->lock);
    while (!w->pending)
        if (pthread_cond_timedwait(&w->cond, &w->lock, &until) != 0)
            break;
    w->pending = false;
    pthread_mutex_unlock(&w->lock);
}
