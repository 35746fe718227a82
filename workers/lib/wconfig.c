/*
 * wconfig.c - flags + environment configuration (see wconfig.h).
 */
#include "wconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wconfig_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", program_invocation_short_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int wconfig_check_range(const char *name, long value, long min, long max)
{
    if (value >= min && value <= max)
        return 0;
    wconfig_error("--%s must be between %ld and %ld, not %ld", name, min, max, value);
    return -1;
}

/* Store one textual value into the option's target; -1 when it does not parse. */
static int assign_value(const struct wopt *o, const char *value, const char *source)
{
    if (o->type == WOPT_STR) {
        *(const char **)o->target = value;
        return 0;
    }
    if (value == NULL)
        return 0;
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0') {
        wconfig_error("invalid integer for --%s (from %s): '%s'", o->name, source, value);
        return -1;
    }
    *(long *)o->target = v;
    return 0;
}

static const struct wopt *find_opt(const struct wopt *opts, size_t n, const char *name,
                                   size_t name_len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == name_len && strncmp(opts[i].name, name, name_len) == 0)
            return &opts[i];
    return NULL;
}

static int apply_defaults_and_env(const struct wopt *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (assign_value(&opts[i], opts[i].def, "default") != 0)
            return -1;
        const char *env = opts[i].env ? getenv(opts[i].env) : NULL;
        if (env != NULL && *env != '\0' && assign_value(&opts[i], env, opts[i].env) != 0)
            return -1;
    }
    return 0;
}

void wconfig_usage(const struct wopt *opts, size_t n, const char *usage_head, void *stream)
{
    FILE *out = stream;
    fprintf(out, "%s\n\nOptions (flag / environment variable / default):\n", usage_head);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "  --%-20s %s\n  %22s env %s, default %s\n", opts[i].name, opts[i].help, "",
                opts[i].env ? opts[i].env : "-", opts[i].def ? opts[i].def : "(none)");
    }
    fprintf(out, "  --%-20s %s\n", "help", "print this text and exit");
}

enum wconfig_result wconfig_parse(const struct wopt *opts, size_t n, int argc, char **argv,
                                  const char *usage_head)
{
    if (apply_defaults_and_env(opts, n) != 0)
        return WCONFIG_ERROR;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            wconfig_usage(opts, n, usage_head, stdout);
            return WCONFIG_HELP;
        }
        if (strncmp(arg, "--", 2) != 0) {
            wconfig_error("unexpected argument '%s' (see --help)", arg);
            return WCONFIG_ERROR;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const struct wopt *o = find_opt(opts, n, name, name_len);
        if (o == NULL) {
            wconfig_error("unknown option '%s' (see --help)", arg);
            return WCONFIG_ERROR;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL) {
            if (i + 1 >= argc) {
                wconfig_error("option --%s needs a value", o->name);
                return WCONFIG_ERROR;
            }
            value = argv[++i];
        }
        if (assign_value(o, value, "flag") != 0)
            return WCONFIG_ERROR;
    }
    return WCONFIG_OK;
}
