/*
 * wconfig.h - table-driven configuration from command-line flags and environment variables.
 *
 * Precedence: --flag beats $ENV beats the built-in default. Flags are `--name value` or
 * `--name=value`; `--help` prints every option with its env variable and default.
 * Each daemon declares one table of struct wopt: the sinks, and the api daemon (workers/api/config.c).
 */
#ifndef WORKERS_WCONFIG_H
#define WORKERS_WCONFIG_H

#include <stddef.h>

enum wopt_type { WOPT_STR, WOPT_INT };

struct wopt {
    const char *name; /* flag name without the leading "--" */
    const char *env;  /* environment variable, or NULL */
    enum wopt_type type;
    void *target;    /* const char ** for WOPT_STR, long * for WOPT_INT */
    const char *def; /* default as text; NULL means "no default" (string stays NULL) */
    const char *help;
};

enum wconfig_result { WCONFIG_OK = 0, WCONFIG_HELP = 1, WCONFIG_ERROR = -1 };

/*
 * Apply defaults, then env, then flags, to every target. On WCONFIG_ERROR a message has been
 * printed (wconfig_error); on WCONFIG_HELP the usage text has been printed to stdout.
 */
enum wconfig_result wconfig_parse(const struct wopt *opts, size_t nopts, int argc, char **argv,
                                  const char *usage_head);

/* Report a bad option the one way every daemon does: "<program>: <message>" on stderr. */
void wconfig_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 0 when min <= value <= max; else reports "--name must be between min and max, not value"
 * and returns -1. */
int wconfig_check_range(const char *name, long value, long min, long max);

/* Print the usage text (used by --help). */
void wconfig_usage(const struct wopt *opts, size_t nopts, const char *usage_head, void *stream);

#endif
