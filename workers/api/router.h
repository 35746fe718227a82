/*
 * router.h - maps method + path to a handler; answers 404 / 405 itself.
 */
#ifndef API_ROUTER_H
#define API_ROUTER_H

#include "api.h"

/* Registers the route names with metrics; once at start. */
void router_init(void);

/* r->method and r->path set; fills route and params, runs the handler. */
enum MHD_Result router_dispatch(api_request *r);

#endif
