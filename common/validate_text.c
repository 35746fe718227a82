/*
 * validate_text.c - the byte-level rules of validate.h: UTF-8, JSON nesting depth,
 * usernames and conversation ids, shared by the validator, the scanner and the sinks.
 */
#include "validate.h"

#include <stdio.h>
#include <string.h>

int vc_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else
            return 0; /* continuation byte, 0xc0/0xc1, > 0xf4 */
        if (len - i <= n)
            return 0; /* truncated sequence */
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) /* overlong */
            || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

size_t vc_utf8_chars(const unsigned char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        n += (s[i] & 0xc0) != 0x80;
    }
    return n;
}

int vc_json_depth_ok(const unsigned char *s, size_t len, size_t max)
{
    size_t depth = 0;
    int in_str = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++; /* skip the escaped char */
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return 0;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return 1;
}

int vc_username_valid(const char *s, size_t len)
{
    if (len < VC_USERNAME_MIN || len > VC_USERNAME_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-')) {
            return 0;
        }
    }
    return 1;
}

void vc_conversation_id(const char *u1, const char *u2, char *out)
{
    const char *a = u1, *b = u2;

    if (strcmp(u1, u2) > 0) {
        a = u2;
        b = u1;
    }
    snprintf(out, VC_CONV_MAX + 1, "%s:%s", a, b);
}
