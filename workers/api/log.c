/*
 * log.c - JSON-lines logger (see log.h).
 *
 * jansson does the string escaping so that any text (including user input in
 * a detail message) yields one valid JSON object per line.
 */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level min) { min_level = min; }

int log_parse_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

static void format_timestamp(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void log_event(enum log_level level, const char *event, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[1024], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    format_timestamp(ts, sizeof ts);

    json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ts", ts, "level", level_names[level],
                             "component", "vote-api", "event", event, "msg", msg);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    /* One fputs per line: stdio locks the stream, so threads never interleave. */
    if (text)
        fprintf(stderr, "%s\n", text);
    else
        fprintf(stderr, "{\"level\":\"error\",\"event\":\"log_failed\",\"msg\":\"%s\"}\n", event);
    free(text);
    json_decref(line);
}
