/*
 * pubsub.h - the Redis subscriber: chat:user:* and results:* fan-out.
 *
 * One thread holds a dedicated connection in PSUBSCRIBE mode.  chat:user:{u}
 * payloads go to u's chat streams; results:{p} marks the poll changed (the
 * coalescer pushes snapshots).  After a lost connection it reconnects with
 * backoff, marks every poll changed and ends the chat streams so browsers
 * reconnect with Last-Event-ID and get what was published meanwhile from
 * PostgreSQL.
 */
#ifndef API_PUBSUB_H
#define API_PUBSUB_H

#include "api.h"

typedef struct pubsub pubsub;

pubsub *pubsub_start(api_app *app);
void pubsub_stop(pubsub *ps);

#endif
