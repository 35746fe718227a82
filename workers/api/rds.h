/*
 * rds.h - Redis access for handler threads (reads of the vote sink's keys).
 *
 * One lazily opened hiredis connection per thread.  Any NULL reply means the
 * connection is unusable (hiredis contract): call rds_drop() and the next
 * rds_get() reconnects.
 */
#ifndef API_RDS_H
#define API_RDS_H

#include <hiredis/hiredis.h>

int rds_init(const char *host, int port);   /* once, before threads start */

/* The thread's context, connecting if needed; NULL if Redis is unreachable. */
redisContext *rds_get(void);
void rds_drop(void);

/* redisCommand on the thread's context; NULL (already dropped, logged) on a
 * transport error.  A REDIS_REPLY_ERROR reply is returned as is. */
redisReply *rds_command(const char *fmt, ...);

/* Connect a new, private context (subscriber, coalescer threads). */
redisContext *rds_connect_new(void);

#endif
