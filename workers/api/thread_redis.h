/*
 * thread_redis.h - Redis access for handler threads (reads of the vote sink's keys).
 *
 * One lazily opened connection per thread (a workers/lib/redis_conn: reconnects
 * lazily, bounded timeouts).  Any NULL reply means the
 * connection is unusable (hiredis contract): call thread_redis_drop() and the next
 * thread_redis_get() reconnects.
 */
#ifndef API_THREAD_REDIS_H
#define API_THREAD_REDIS_H

#include <hiredis/hiredis.h>

int thread_redis_init(const char *host, int port); /* once, before threads start */

/* The thread's context, connecting if needed; NULL if Redis is unreachable. */
redisContext *thread_redis_get(void);
void thread_redis_drop(void);

/* redisCommand on the thread's context; NULL (already dropped, logged) on a
 * transport error.  A REDIS_REPLY_ERROR reply is returned as is. */
redisReply *thread_redis_command(const char *fmt, ...);

/* Connect a new, private context (subscriber, coalescer threads). */
redisContext *thread_redis_connect_new(void);

#endif
