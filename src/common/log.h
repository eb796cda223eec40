/*
 * log.h -- JSON-lines logs on stderr.
 *
 * Fields are key/value pairs given as a format string of "k=%s"-free
 * printf style: log_info("consumer", "assigned partition %d", p). The message
 * text must never carry issue titles or bodies; callers log identifiers
 * (topic, partition, offset, issue number) only.
 */
#ifndef DISPATCHD_LOG_H
#define DISPATCHD_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Returns -1 if name is not a level. */
int log_parse_level(const char *name);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
void log_write(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* From here on lines are written by a background thread, so no caller ever
 * blocks on stderr; log_stop_async() drains and returns to direct writes. */
void log_start_async(void);
void log_stop_async(void);

#define log_debug(c, ...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, c, __VA_ARGS__); } while (0)
#define log_info(c, ...)  log_write(LOG_INFO, c, __VA_ARGS__)
#define log_warn(c, ...)  log_write(LOG_WARN, c, __VA_ARGS__)
#define log_error(c, ...) log_write(LOG_ERROR, c, __VA_ARGS__)

#endif
