/*
 * vote_scan.c - single-pass scanner for the common shape of a vote body.
 *
 * Most votes are {"poll":"...","choice":"..."} with an optional voter: flat,
 * ASCII, no escapes.  For those, jansson's parse (a hash table, an object
 * per member, a copy of every string) is most of the validator's cost on
 * the edge.  This scanner recognises exactly that shape in one pass and
 * answers "not mine" for everything else, so that the validator's jansson
 * path stays the only one that ever rejects a body or parses anything
 * unusual.  The fuzzer (common/fuzz/fuzz_validate.c) checks that both paths
 * accept the same bodies and produce the same bytes.
 */
#include "vote_scan.h"

#include <string.h>

static const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

/* a string of printable ASCII without '\\'; p is on the opening quote */
static const unsigned char *scan_str(const unsigned char *p, const unsigned char *end,
                                     vc_scan_str *out)
{
    const unsigned char *s = ++p;

    while (p < end && *p != '"') {
        if (*p < 0x20 || *p >= 0x7f || *p == '\\') {
            return NULL;
        }
        p++;
    }
    if (p == end) {
        return NULL;
    }
    out->s = (const char *)s;
    out->len = (size_t)(p - s);
    return p + 1;
}

static vc_scan_str *member(vc_vote_scan_fields *f, const vc_scan_str *key)
{
    if (key->len == 4 && memcmp(key->s, "poll", 4) == 0) {
        return &f->poll;
    }
    if (key->len == 6 && memcmp(key->s, "choice", 6) == 0) {
        return &f->choice;
    }
    if (key->len == 5 && memcmp(key->s, "voter", 5) == 0) {
        return &f->voter;
    }
    return NULL;
}

int vc_vote_scan(const unsigned char *body, size_t len, vc_vote_scan_fields *f)
{
    const unsigned char *p = body, *end = body + len;
    vc_scan_str key, *slot;

    memset(f, 0, sizeof(*f));
    p = skip_ws(p, end);
    if (p == end || *p++ != '{') {
        return 0;
    }
    p = skip_ws(p, end);
    if (p < end && *p == '}') {
        return 0; /* {}: the full path says what is missing */
    }
    for (;;) {
        if (p == end || *p != '"' || (p = scan_str(p, end, &key)) == NULL) {
            return 0;
        }
        slot = member(f, &key);
        if (slot == NULL || slot->s != NULL) {
            return 0; /* another member, or a duplicate */
        }
        p = skip_ws(p, end);
        if (p == end || *p++ != ':') {
            return 0;
        }
        p = skip_ws(p, end);
        if (p == end || *p != '"' || (p = scan_str(p, end, slot)) == NULL) {
            return 0;
        }
        p = skip_ws(p, end);
        if (p == end) {
            return 0;
        }
        if (*p == '}') {
            break;
        }
        if (*p++ != ',') {
            return 0;
        }
        p = skip_ws(p, end);
    }
    return skip_ws(p + 1, end) == end;
}
