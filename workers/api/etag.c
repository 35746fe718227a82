/*
 * etag.c - weak entity tags of results snapshots and If-None-Match (etag.h).
 */
#include "etag.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Offset just past the value of the first "generated_at": in body, or 0 if absent.
 * *start is where the value begins.  The snapshot writes it at the top level before
 * any attribute value, so the first occurrence is the field. */
static size_t generated_at_span(const char *body, size_t len, size_t *start)
{
    static const char key[] = "\"generated_at\":";
    const char *k = memmem(body, len, key, sizeof key - 1);
    if (!k)
        return 0;
    size_t i = (size_t)(k - body) + sizeof key - 1;
    *start = i;
    while (i < len && ((body[i] >= '0' && body[i] <= '9') || body[i] == '-'))
        i++;
    return i;
}

void etag_of_results(const char *body, size_t len, char out[ETAG_MAX])
{
    size_t start = 0, end = generated_at_span(body, len, &start);
    uint64_t h;
    if (end)
        h = fnv1a(fnv1a(FNV_OFFSET, body, start), body + end, len - end);
    else
        h = fnv1a(FNV_OFFSET, body, len);
    snprintf(out, ETAG_MAX, "W/\"%016llx\"", (unsigned long long)h);
}

/* The opaque part of a tag: without W/ and the quotes. */
static void opaque(const char *tag, size_t n, const char **p, size_t *len)
{
    if (n >= 2 && tag[0] == 'W' && tag[1] == '/') {
        tag += 2;
        n -= 2;
    }
    if (n >= 2 && tag[0] == '"' && tag[n - 1] == '"') {
        tag++;
        n -= 2;
    }
    *p = tag;
    *len = n;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

int etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match || !etag)
        return 0;
    const char *want;
    size_t want_len;
    opaque(etag, strlen(etag), &want, &want_len);
    const char *s = if_none_match;
    while (*s) {
        while (is_space(*s) || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - s);
        while (n && is_space(s[n - 1]))
            n--;
        if (n == 1 && *s == '*')
            return 1;
        const char *got;
        size_t got_len;
        opaque(s, n, &got, &got_len);
        if (n && got_len == want_len && memcmp(got, want, want_len) == 0)
            return 1;
        s = e;
    }
    return 0;
}
