/*
 * rds.c - per-thread hiredis connections (see rds.h).
 */
#include "rds.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "metrics.h"

static char *rhost;
static int rport;
static pthread_key_t ctx_key;

static void free_ctx(void *p) { redisFree(p); }

int rds_init(const char *host, int port)
{
    rhost = strdup(host);
    rport = port;
    if (!rhost || pthread_key_create(&ctx_key, free_ctx) != 0)
        return -1;
    return 0;
}

redisContext *rds_connect_new(void)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(rhost, rport, tv);
    if (!c || c->err) {
        log_error("redis_connect", "%s:%d: %s", rhost, rport, c ? c->errstr : "out of memory");
        metrics_inc(M_REDIS_ERRORS);
        redisFree(c);
        return NULL;
    }
    /* Bound every command so a wedged Redis cannot hold a handler thread. */
    if (redisSetTimeout(c, tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
        log_error("redis_setup", "%s", c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

redisContext *rds_get(void)
{
    redisContext *c = pthread_getspecific(ctx_key);
    if (c)
        return c;
    c = rds_connect_new();
    if (c)
        pthread_setspecific(ctx_key, c);
    return c;
}

void rds_drop(void)
{
    redisContext *c = pthread_getspecific(ctx_key);
    if (c) {
        metrics_inc(M_REDIS_ERRORS);
        log_warn("redis_drop", "dropping connection: %s", c->errstr[0] ? c->errstr : "error");
        redisFree(c);
        pthread_setspecific(ctx_key, NULL);
    }
}

redisReply *rds_command(const char *fmt, ...)
{
    redisContext *c = rds_get();
    if (!c)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!reply)
        rds_drop();
    return reply;
}
