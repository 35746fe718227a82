/*
 * results_view.h - the optional parameters of GET /api/polls/{poll}/results.
 *
 * Without a query the answer is the cached snapshot (results.h), byte for byte.
 * ?top=N (1-RESULTS_TOP_N) cuts every "top" list to N entries; ?attr=A&value=V adds
 * "breakdown": {"attr","value","total","choices":{every choice: n}} for one value of
 * one attribute of the poll, also for values outside by_attr and top (stations).
 * Anything else is refused with a precise 4xx before Redis is touched.
 */
#ifndef API_RESULTS_VIEW_H
#define API_RESULTS_VIEW_H

#include <jansson.h>
#include <stddef.h>

#include "api.h"
#include "request_parse.h"

#define RESULTS_VIEW_PARAMS "top, attr, value"

typedef struct {
    unsigned top;      /* entries per top list (RESULTS_TOP_N when not asked) */
    const char *attr;  /* an attribute of the poll, or NULL */
    const char *value; /* with attr: the value to break down */
} results_view;

/* Checks the raw parameters (NULL when absent) against poll p into *v.
 * 0, or -1 with the problem in *err. */
int results_view_check(const vc_poll *p, const char *top, const char *attr, const char *value,
                       results_view *v, api_problem *err);

/* Applies v to the parsed snapshot snap in place: 0, or -1 when snap is not a
 * snapshot or memory ran out.  counts[i] is choice i's tally for v->value, read by
 * the caller when snap's by_attr lacks v->attr (NULL otherwise: by_attr has it). */
int results_view_apply(json_t *snap, const vc_poll *p, const results_view *v,
                       const long long *counts);

/* GET .../results with a query: validates it, applies it to the current snapshot
 * of poll idx (reading one value's tallies from Redis when by_attr lacks them). */
enum MHD_Result results_view_respond(api_request *r, size_t idx);

#endif
