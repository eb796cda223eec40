#include "shutdown_guard.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "runtime.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool armed, finished;
static const char *step = "draining";
static pthread_t thread;
static int timeout;

static void *guard_main(void *arg)
{
    (void)arg;
    struct timespec deadline = rt_deadline(CLOCK_REALTIME, timeout);
    pthread_mutex_lock(&lock);
    int rc = 0;
    while (!finished && rc == 0)
        rc = pthread_cond_timedwait(&cond, &lock, &deadline);
    if (!finished) {
        log_error("run", "shutdown exceeded %d ms while %s; exiting with %ld records in flight abandoned "
                  "(the next owner of their partitions redoes them)",
                  timeout, step, (long)__atomic_load_n(&g_metrics.inflight, __ATOMIC_RELAXED));
        log_stop_async();
        _exit(SHUTDOWN_EXIT_ABANDONED);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

void shutdown_guard_arm(int timeout_ms)
{
    pthread_mutex_lock(&lock);
    bool start = !armed;
    armed = true;
    timeout = timeout_ms;
    pthread_mutex_unlock(&lock);
    if (start && pthread_create(&thread, NULL, guard_main, NULL) != 0) {
        log_error("run", "cannot start the shutdown guard; stopping without a bound");
        armed = false;
    }
}

void shutdown_guard_step(const char *name)
{
    pthread_mutex_lock(&lock);
    step = name;
    pthread_mutex_unlock(&lock);
}

void shutdown_guard_disarm(void)
{
    pthread_mutex_lock(&lock);
    bool was = armed;
    finished = true;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    if (was)
        pthread_join(thread, NULL);
}
