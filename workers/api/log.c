/*
 * log.c - the api's logger, an adapter over the workers' shared wlog (workers/lib/wlog.h)
 * so every daemon of the project writes the same line format:
 *   <ts> <level> vote-api <event> detail="<human text>"
 * The detail is sanitised (quotes and control characters replaced) so user input that ends
 * up in a message can never forge a second line or break the key=value tail.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

#include "wlog.h"

_Static_assert((int)LOG_DEBUG == (int)WLOG_DEBUG && (int)LOG_ERROR == (int)WLOG_ERROR,
               "log levels mirror wlog's");

void log_set_level(enum log_level min) { wlog_init("vote-api", (enum wlog_level)min); }

int log_parse_level(const char *name) { return wlog_level_parse(name); }

static void sanitise(char *s)
{
    for (; *s; s++)
        if (*s == '"')
            *s = '\'';
        else if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

void log_event(enum log_level level, const char *event, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    sanitise(detail);
    wlog((enum wlog_level)level, event, "detail=\"%s\"", detail);
}
