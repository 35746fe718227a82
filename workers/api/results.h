/*
 * results.h - poll results snapshots from the vote sink's Redis keys, with a
 * short-lived cache.
 *
 * A snapshot is the JSON body of GET /api/polls/{poll}/results and of the
 * poll stream's "results" events.  Each poll has one cached snapshot.  When its
 * results:{p} channel fires, the next reader reads it again, at once after a quiet
 * spell and at most once per --results-cache-ms (250) while votes keep coming; an
 * answer lags the tallies by at most that plus one read (~0.1 s for the 46 kB
 * election results).  Without notifications it is read again every 4-5 s in case one
 * was lost.  One reader rebuilds; the others keep getting the current snapshot (or
 * wait for the first one), so a burst of readers costs one Redis read, not one each.
 */
#ifndef API_RESULTS_H
#define API_RESULTS_H

#include <stddef.h>

#include "api.h"

/* Results are public and eventually consistent (the SSE stream is the live channel):
 * browsers and the edge's micro-cache (nginx-conf/api-locations.conf) may keep an
 * answer for a second.  Per-user answers say "private, no-store" (respond.c). */
#define RESULTS_CACHE_CONTROL "public, max-age=1"

#define RESULTS_TOP_N 10          /* entries in "top" per attribute */
#define RESULTS_FULL_ATTR_MAX 500 /* attributes with more values only get "top" */

results_cache *results_cache_new(size_t npolls, unsigned max_age_ms);
void results_cache_free(results_cache *rc);

/* A snapshot of poll index idx (malloc'd JSON in *json).  fresh=1 bypasses
 * the cache.  0, or -1 when Redis cannot be read. */
int results_snapshot(api_app *app, size_t idx, int fresh, char **json, size_t *len);

/* Answers r with the cached snapshot of poll idx if it is fresh: the cache keeps one
 * ready MHD response per poll, queued to every reader without copying the body
 * (or a 304 when If-None-Match names its tag).
 * Returns 0 (and *ret) when answered, -1 on a miss. */
int results_respond_cached(api_request *r, size_t idx, enum MHD_Result *ret);

/* Answers r with the snapshot json (copied): 200 with Cache-Control: public and a
 * weak ETag (etag.h), or 304 when the request's If-None-Match names that tag. */
enum MHD_Result results_respond(api_request *r, const char *json, size_t len);

/* The tallies of poll idx changed: drop its cache entry, flag a stream push. */
void results_mark_changed(results_cache *rc, size_t idx);
/* Every poll changed (after a pub/sub outage, changes may have been missed). */
void results_mark_all_changed(results_cache *rc);
/* 1 (and clears the flag) if poll idx changed since the last call. */
int results_take_changed(results_cache *rc, size_t idx);

#endif
