/*
 * shutdown_guard.h -- a bound on how long `run` takes to stop. Armed when
 * the stop signal arrives; if the process is still there when the bound
 * passes (a librdkafka close or destroy waiting on a broker that went away,
 * or on messages still referenced), it logs the step it was in and what was
 * abandoned, and ends the process with exit code 3. Nothing uncommitted is
 * lost by that: the next owner of the partitions redoes it, and the sinks
 * are idempotent.
 */
#ifndef DISPATCHD_SHUTDOWN_GUARD_H
#define DISPATCHD_SHUTDOWN_GUARD_H

#define SHUTDOWN_EXIT_ABANDONED 3

/* Starts the clock: the process ends within timeout_ms from now. */
void shutdown_guard_arm(int timeout_ms);
/* Names the step now under way, for the log line if the bound passes
 * (a string constant). */
void shutdown_guard_step(const char *step);
/* Shutdown finished within the bound. */
void shutdown_guard_disarm(void);

#endif
