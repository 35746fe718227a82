/*
 * router.h - maps method + path to a handler; answers 404 / 405 itself.
 */
#ifndef API_ROUTER_H
#define API_ROUTER_H

#include "api.h"

/* Registers the route names with metrics; once at start. */
void router_init(void);

/* The route serving method + path, its "*" segments in params/lens (pointers
 * into path, API_MAX_PATH_PARAMS at most); -1 when none, with *path_route the
 * route of that path under another method (answered 405) or -1 (404).  Pure. */
int router_find(const char *method, const char *path, const char **params, size_t *lens,
                int *path_route);

/* The metrics name of route i ("auth_login", ...), NULL when there is none. */
const char *router_route_name(int i);

/* r->method and r->path set; fills route and params, runs the handler. */
enum MHD_Result router_dispatch(api_request *r);

#endif
