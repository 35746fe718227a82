/*
 * json_out.c - the compact JSON object writer (see json_out.h).
 */
#include "json_out.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static size_t esc_len(const char *s, size_t len)
{
    size_t n = 2; /* the quotes */

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
            c == '\t') {
            n += 2;
        } else if (c < 0x20) {
            n += 6; /* \u00XX */
        } else {
            n++;
        }
    }
    return n;
}

static char *esc_put(char *p, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF"; /* jansson prints \u%04X */

    *p++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char e = 0;
        switch (c) {
        case '"':
            e = '"';
            break;
        case '\\':
            e = '\\';
            break;
        case '\b':
            e = 'b';
            break;
        case '\f':
            e = 'f';
            break;
        case '\n':
            e = 'n';
            break;
        case '\r':
            e = 'r';
            break;
        case '\t':
            e = 't';
            break;
        }
        if (e) {
            *p++ = '\\';
            *p++ = e;
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return p;
}

/* decimal int64 without snprintf; buf holds at least 21 bytes */
size_t vc_json_out_int(int64_t v, char *buf)
{
    char tmp[20];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0, o = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        buf[o++] = '-';
    }
    while (n) {
        buf[o++] = tmp[--n];
    }
    return o;
}

/* parts alternate key, value: keys and non-raw values are escaped strings.
 * A part with s == NULL is skipped together with its key. */
int vc_json_out_object(const vc_out_part *parts, size_t nparts, char **json, size_t *json_len)
{
    size_t len = 2, i; /* the braces */
    char *p, *buf;

    for (i = 0; i < nparts; i += 2) {
        if (parts[i + 1].s == NULL)
            continue;
        len += esc_len(parts[i].s, parts[i].len) + 1 + 1; /* key, ':' and ',' */
        len += parts[i + 1].raw ? parts[i + 1].len : esc_len(parts[i + 1].s, parts[i + 1].len);
    }
    buf = malloc(len + 1);
    if (buf == NULL) {
        return -1;
    }
    p = buf;
    *p++ = '{';
    for (i = 0; i < nparts; i += 2) {
        if (parts[i + 1].s == NULL)
            continue;
        if (p != buf + 1)
            *p++ = ',';
        p = esc_put(p, parts[i].s, parts[i].len);
        *p++ = ':';
        if (parts[i + 1].raw) {
            memcpy(p, parts[i + 1].s, parts[i + 1].len);
            p += parts[i + 1].len;
        } else {
            p = esc_put(p, parts[i + 1].s, parts[i + 1].len);
        }
    }
    *p++ = '}';
    *p = '\0';
    *json = buf;
    *json_len = (size_t)(p - buf);
    return 0;
}

int vc_json_out_string_object(json_t *attrs, char *small, size_t small_size, char **buf,
                              size_t *len)
{
    const char *k;
    json_t *v;
    size_t n = 2;
    char *p;

    *buf = small;
    if (attrs == NULL) {
        memcpy(small, "{}", 2);
        *len = 2;
        return 0;
    }
    json_object_foreach(attrs, k, v)
    {
        n += esc_len(k, strlen(k)) + 1 + esc_len(json_string_value(v), json_string_length(v)) + 1;
    }
    if (n > small_size && (*buf = malloc(n)) == NULL) {
        return -1;
    }
    p = *buf;
    *p++ = '{';
    json_object_foreach(attrs, k, v)
    {
        if (p != *buf + 1)
            *p++ = ',';
        p = esc_put(p, k, strlen(k));
        *p++ = ':';
        p = esc_put(p, json_string_value(v), json_string_length(v));
    }
    *p++ = '}';
    *len = (size_t)(p - *buf);
    return 0;
}
