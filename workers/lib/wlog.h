/*
 * wlog.h - structured, line-oriented logging shared by every worker daemon.
 *
 * One event per line on stderr:  <ts> <level> <component> <msg> key=value ...
 * e.g.  2026-11-22T04:30:00.123Z warn vote-sink store down store=redis err="Connection refused"
 * Callers pass the key=value tail as a printf format so hot paths avoid allocations.
 */
#ifndef WORKERS_WLOG_H
#define WORKERS_WLOG_H

enum wlog_level { WLOG_DEBUG = 0, WLOG_INFO, WLOG_WARN, WLOG_ERROR };

/* Set once at startup; the component tags every line (e.g. "vote-sink"). */
void wlog_init(const char *component, enum wlog_level min_level);

/* Parse "debug|info|warn|error"; returns -1 when unknown. */
int wlog_level_parse(const char *name);

/* Emit one line. kv_fmt may be NULL; otherwise it formats the key=value tail. */
void wlog(enum wlog_level level, const char *msg, const char *kv_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define wlog_debug(...) wlog(WLOG_DEBUG, __VA_ARGS__)
#define wlog_info(...) wlog(WLOG_INFO, __VA_ARGS__)
#define wlog_warn(...) wlog(WLOG_WARN, __VA_ARGS__)
#define wlog_error(...) wlog(WLOG_ERROR, __VA_ARGS__)

#endif
