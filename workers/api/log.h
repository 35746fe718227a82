/*
 * log.h - structured logging to stderr for the api daemon (over workers/lib/wlog).
 *
 * One line per event, the same format as the sinks. The
 * event/detail split and the sanitising live here; this file is the api's
 * narrow dependency on "some logger" so it can be swapped in one place.
 */
#ifndef API_LOG_H
#define API_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Minimum level printed; parse_level maps "debug|info|warn|error" (-1 if unknown). */
void log_set_level(enum log_level min);
int log_parse_level(const char *name);

/* event: a short stable identifier ("listening", "pg_error"); fmt: human text. */
void log_event(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...) log_event(LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...) log_event(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_event(LOG_ERROR, ev, __VA_ARGS__)

#endif
