/*
 * wlog.c - structured log lines (see wlog.h). The whole line is formatted into one
 * buffer and written with a single write(2) so lines from threads never interleave.
 */
#include "wlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "worker";
static enum wlog_level log_min = WLOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void wlog_init(const char *component, enum wlog_level min_level)
{
    log_component = component;
    log_min = min_level;
}

int wlog_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

/* RFC 3339 UTC timestamp with milliseconds. */
static size_t format_ts(char *buf, size_t cap)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, cap - n, ".%03ldZ", now.tv_nsec / 1000000L);
    return m > 0 ? n + (size_t)m : n;
}

void wlog(enum wlog_level level, const char *msg, const char *kv_fmt, ...)
{
    if (level < log_min)
        return;
    char line[2048];
    size_t n = format_ts(line, sizeof line);
    int m =
        snprintf(line + n, sizeof line - n, " %s %s %s", level_names[level], log_component, msg);
    if (m > 0)
        n += (size_t)m;
    if (kv_fmt != NULL && n + 1 < sizeof line) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, kv_fmt);
        m = vsnprintf(line + n, sizeof line - n, kv_fmt, ap);
        va_end(ap);
        if (m > 0)
            n += (size_t)m;
    }
    if (n >= sizeof line - 1)
        n = sizeof line - 2; /* truncated: still end the line */
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere else to report a failing stderr */
}
