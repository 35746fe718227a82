/*
 * http_server.h - the libmicrohttpd daemon: limits, body collection,
 * dispatch to the router, graceful stop.
 */
#ifndef API_HTTP_SERVER_H
#define API_HTTP_SERVER_H

#include "api.h"

struct MHD_Daemon *http_start(api_app *app);

/* Stops accepting, ends SSE streams, gives in-flight requests up to
 * grace_ms to finish, then stops the daemon. */
void http_stop(struct MHD_Daemon *d, api_app *app, unsigned grace_ms);

#endif
