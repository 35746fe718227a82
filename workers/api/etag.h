/*
 * etag.h - entity tags of results snapshots and If-None-Match matching.
 *
 * A results body carries "generated_at" (when it was read from Redis), which
 * changes on every rebuild even when no tally moved.  Its tag is therefore weak
 * (W/"..."): a 64-bit FNV-1a hash of the body with the generated_at digits left
 * out, so two snapshots of the same tallies share a tag and a client or the edge
 * cache revalidating with If-None-Match gets 304 instead of the body again.
 */
#ifndef API_ETAG_H
#define API_ETAG_H

#include <stddef.h>

#define ETAG_MAX 24 /* W/"16 hex digits" + NUL */

/* Writes the weak tag of body[0..len) into out (ETAG_MAX bytes). */
void etag_of_results(const char *body, size_t len, char out[ETAG_MAX]);

/* 1 if the If-None-Match header value (a list of tags, or "*") matches etag
 * under the weak comparison (W/ prefixes ignored), else 0.  NULL header: 0. */
int etag_matches(const char *if_none_match, const char *etag);

#endif
