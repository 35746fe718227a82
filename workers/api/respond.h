/*
 * respond.h - building and queueing HTTP answers.
 *
 * Every answer of the daemon passes through here so that the error body shape
 * ({"error","detail","field"}, as in DESIGN.md), common headers and the
 * per-route metrics are uniform.
 */
#ifndef API_RESPOND_H
#define API_RESPOND_H

#include <jansson.h>

#include "api.h"
#include "request_parse.h"

/* body is stolen (decref'd here); NULL body answers 500. */
enum MHD_Result respond_json(api_request *r, unsigned status, json_t *body);
/* Copies data. */
enum MHD_Result respond_raw(api_request *r, unsigned status, const char *content_type,
                            const char *data, size_t len);
enum MHD_Result respond_empty(api_request *r, unsigned status);
/* The {"error","detail","field"} body (field may be NULL); NULL when code or
 * detail is not UTF-8 or memory ran out (respond_json then answers 500). */
json_t *respond_error_body(const char *code, const char *detail, const char *field);
/* field may be NULL. */
enum MHD_Result respond_error(api_request *r, unsigned status, const char *code, const char *detail,
                              const char *field);
/* A client error found by request_parse.c. */
enum MHD_Result respond_problem(api_request *r, const api_problem *p);
/* 503 with Retry-After for a store that is down. */
enum MHD_Result respond_unavailable(api_request *r, const char *what);

/* Queue an already built response (SSE); adds the common headers, counts, and drops
 * our reference. */
enum MHD_Result respond_queue(api_request *r, unsigned status, struct MHD_Response *resp);

/* Adds the common headers to a response that will be queued many times. */
void respond_add_common_headers(struct MHD_Response *resp);
/* Queue a shared response (headers already set, reference kept by the caller); counts. */
enum MHD_Result respond_queue_shared(api_request *r, unsigned status, struct MHD_Response *resp);

#endif
