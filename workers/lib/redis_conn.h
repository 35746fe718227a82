/*
 * redis_conn.h - a hiredis connection that reconnects lazily.
 *
 * Rule shared by every daemon: a NULL reply or a context error means the connection is
 * unusable; it is dropped and the next call reconnects. Callers treat NULL as "store down".
 */
#ifndef WORKERS_REDIS_CONN_H
#define WORKERS_REDIS_CONN_H

#include <hiredis.h>
#include <stddef.h>

struct redis_conn {
    const char *host;
    int port;
    int timeout_ms;                                       /* connect and command timeout */
    redisContext *ctx;                                    /* NULL while disconnected */
    char last_error[128];                                 /* why the last call failed, for logs */
    void (*on_connect)(struct redis_conn *rc, void *arg); /* e.g. reload Lua scripts */
    void *on_connect_arg;
};

void redis_conn_init(struct redis_conn *rc, const char *host, int port, int timeout_ms);
/* Returns a live context or NULL (last_error set). */
redisContext *redis_conn_get(struct redis_conn *rc);
void redis_conn_drop(struct redis_conn *rc);
/* Run one command; NULL means the connection failed and was dropped. Free with freeReplyObject. */
redisReply *redis_conn_commandv(struct redis_conn *rc, int argc, const char **argv,
                                const size_t *argvlen);
void redis_conn_close(struct redis_conn *rc);

/* Pipelining: send one command now (written to the socket, so the server starts on it)
 * and read its reply later with redis_conn_read(). Both drop the connection on failure
 * (a reply still in flight is then lost: callers must only pipeline idempotent work). */
int redis_conn_send(struct redis_conn *rc, int argc, const char **argv, const size_t *argvlen);
redisReply *redis_conn_read(struct redis_conn *rc);

#endif
