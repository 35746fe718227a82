/*
 * coalescer.h - the thread that turns "poll changed" flags into at most one
 * results snapshot per poll and interval (--sse-coalesce-ms) for the poll
 * streams, sends the SSE heartbeat and ends chat streams whose token expired or was
 * revoked (checked every tick).
 */
#ifndef API_COALESCER_H
#define API_COALESCER_H

#include "api.h"

typedef struct coalescer coalescer;

coalescer *coalescer_start(api_app *app);
void coalescer_stop(coalescer *co);

#endif
