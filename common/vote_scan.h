/* vote_scan.h - single-pass scanner for the common shape of a vote body (see vote_scan.c). */
#ifndef VC_VOTE_SCAN_H
#define VC_VOTE_SCAN_H

#include <stddef.h>

/* A member's value as it stands in the body (no escapes to undo); s == NULL
 * when the member is absent. */
typedef struct {
    const char *s;
    size_t len;
} vc_scan_str;

typedef struct {
    vc_scan_str poll;
    vc_scan_str choice;
    vc_scan_str voter;
} vc_vote_scan_fields;

/* 1 when body is exactly a JSON object whose members are among "poll",
 * "choice" and "voter", each at most once, each a string of printable ASCII
 * without escapes, with only JSON whitespace around the tokens; *f then
 * points into body.  0 for anything else (which may still be valid JSON: the
 * caller hands such bodies to the full parser). */
int vc_vote_scan(const unsigned char *body, size_t len, vc_vote_scan_fields *f);

#endif
