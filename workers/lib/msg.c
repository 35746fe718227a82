/*
 * msg.c - decoding and poison checks of vote and chat messages (see msg.h).
 * jansson already rejects invalid UTF-8 and (without JSON_ALLOW_NUL) embedded NULs, which
 * PostgreSQL text could not store anyway.
 */
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_ID_MAX_CHARS 64
#define ATTR_VALUE_MAX_CHARS 128
#define VOTER_MAX_CHARS 128

static int fail(char *reason, size_t cap, const char *why)
{
    snprintf(reason, cap, "%s", why);
    return -1;
}

int poll_catalog_parse(struct poll_catalog *cat, const char *text, char *err, size_t errlen)
{
    json_error_t je;
    cat->root = json_loads(text, 0, &je);
    if (cat->root == NULL) {
        snprintf(err, errlen, "catalog: %s (line %d)", je.text, je.line);
        return -1;
    }
    json_t *polls = json_object_get(cat->root, "polls");
    if (!json_is_array(polls)) {
        snprintf(err, errlen, "catalog: \"polls\" must be an array");
        poll_catalog_free(cat);
        return -1;
    }
    size_t i;
    json_t *p;
    json_array_foreach(polls, i, p) {
        if (!json_is_string(json_object_get(p, "id")) ||
            !json_is_array(json_object_get(p, "choices")) ||
            !json_is_array(json_object_get(p, "attrs")) ||
            json_array_size(json_object_get(p, "attrs")) > MSG_ATTRS_MAX) {
            snprintf(err, errlen, "catalog: poll %zu needs id, choices[] and attrs[] (<= %d)", i,
                     MSG_ATTRS_MAX);
            poll_catalog_free(cat);
            return -1;
        }
    }
    return 0;
}

int poll_catalog_load(struct poll_catalog *cat, const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL) {
        snprintf(err, errlen, "catalog %s: %s (line %d)", path, je.text, je.line);
        return -1;
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL) {
        snprintf(err, errlen, "catalog %s: out of memory", path);
        return -1;
    }
    int rc = poll_catalog_parse(cat, text, err, errlen);
    free(text);
    return rc;
}

void poll_catalog_free(struct poll_catalog *cat)
{
    json_decref(cat->root);
    cat->root = NULL;
}

static json_t *catalog_find(const struct poll_catalog *cat, const char *poll)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(cat->root, "polls"), i, p) {
        if (strcmp(json_string_value(json_object_get(p, "id")), poll) == 0)
            return p;
    }
    return NULL;
}

static int string_in_array(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

int msg_ulid_valid(const char *s)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    if (s == NULL || strlen(s) != 26 || s[0] > '7')
        return 0;
    for (int i = 0; i < 26; i++)
        if (s[i] == '\0' || strchr(alphabet, s[i]) == NULL)
            return 0;
    return 1;
}

int msg_username_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 3 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int msg_text_ok(const char *s, size_t max_chars)
{
    if (s == NULL || *s == '\0')
        return 0;
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        if ((*p & 0xC0) != 0x80) /* count lead bytes only: input is valid UTF-8 */
            chars++;
    }
    return chars <= max_chars;
}

/* Same as msg_text_ok but chat text may contain newlines and tabs. */
static int chat_text_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r') || *p == 0x7f)
            return 0;
        if ((*p & 0xC0) != 0x80)
            chars++;
    }
    return chars <= MSG_TEXT_MAX_CHARS;
}

/* Fields common to both kinds: v == 1, kind, ULID id, integer received_at >= 0. */
static int check_envelope(json_t *root, const char *kind, const char **id, int64_t *received_at,
                          char *reason, size_t cap)
{
    json_t *v = json_object_get(root, "v");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return fail(reason, cap, "bad schema version");
    json_t *k = json_object_get(root, "kind");
    if (!json_is_string(k) || strcmp(json_string_value(k), kind) != 0)
        return fail(reason, cap, "wrong kind");
    *id = json_string_value(json_object_get(root, "id"));
    if (!msg_ulid_valid(*id))
        return fail(reason, cap, "bad id");
    json_t *ra = json_object_get(root, "received_at");
    if (!json_is_integer(ra) || json_integer_value(ra) < 0)
        return fail(reason, cap, "bad received_at");
    *received_at = json_integer_value(ra);
    return 0;
}

/* Reject keys the edge never produces, so a foreign producer's data is not half-stored. */
static int only_known_keys(json_t *root, const char *const *known, char *reason, size_t cap)
{
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            ok |= strcmp(*k, key) == 0;
        if (!ok)
            return fail(reason, cap, "unknown field");
    }
    return 0;
}

static json_t *parse_object(const char *buf, size_t len, char *reason, size_t cap)
{
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        fail(reason, cap, "bad json");
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fail(reason, cap, "not an object");
        return NULL;
    }
    return root;
}

/* attrs must hold exactly the poll's attribute names (or any strings without a catalog). */
static int decode_attrs(json_t *attrs, json_t *poll_def, struct vote_msg *out, char *reason,
                        size_t cap)
{
    if (!json_is_object(attrs))
        return fail(reason, cap, "attrs not an object");
    if (json_object_size(attrs) > MSG_ATTRS_MAX)
        return fail(reason, cap, "too many attrs");
    if (poll_def != NULL) {
        json_t *names = json_object_get(poll_def, "attrs");
        if (json_object_size(attrs) != json_array_size(names))
            return fail(reason, cap, "attrs do not match poll");
        size_t i;
        json_t *name;
        json_array_foreach(names, i, name) {
            const char *value = json_string_value(json_object_get(attrs, json_string_value(name)));
            if (!msg_text_ok(value, ATTR_VALUE_MAX_CHARS))
                return fail(reason, cap, "bad attr value");
            out->attr_names[i] = json_string_value(name);
            out->attr_values[i] = value;
        }
        out->nattrs = json_array_size(names);
        return 0;
    }
    const char *key;
    json_t *val;
    out->nattrs = 0;
    json_object_foreach(attrs, key, val) {
        if (!msg_text_ok(json_string_value(val), ATTR_VALUE_MAX_CHARS))
            return fail(reason, cap, "bad attr value");
        out->attr_names[out->nattrs] = key;
        out->attr_values[out->nattrs++] = json_string_value(val);
    }
    return 0;
}

int vote_msg_decode(const struct poll_catalog *cat, const char *buf, size_t len,
                    struct vote_msg *out, char *reason, size_t cap)
{
    static const char *const known[] = { "v",     "kind",  "id",          "poll", "choice",
                                         "voter", "attrs", "received_at", NULL };
    memset(out, 0, sizeof *out);
    json_t *root = parse_object(buf, len, reason, cap);
    if (root == NULL)
        return -1;
    out->root = root;
    if (check_envelope(root, "vote", &out->id, &out->received_at, reason, cap) != 0 ||
        only_known_keys(root, known, reason, cap) != 0)
        goto poison;
    out->poll = json_string_value(json_object_get(root, "poll"));
    out->choice = json_string_value(json_object_get(root, "choice"));
    if (!msg_text_ok(out->poll, POLL_ID_MAX_CHARS) || !msg_text_ok(out->choice, 64)) {
        fail(reason, cap, "bad poll or choice");
        goto poison;
    }
    json_t *poll_def = NULL;
    if (cat != NULL) {
        poll_def = catalog_find(cat, out->poll);
        if (poll_def == NULL) {
            fail(reason, cap, "unknown poll");
            goto poison;
        }
        if (!string_in_array(json_object_get(poll_def, "choices"), out->choice)) {
            fail(reason, cap, "unknown choice");
            goto poison;
        }
    }
    json_t *voter = json_object_get(root, "voter");
    if (voter != NULL) {
        out->voter = json_string_value(voter);
        if (!msg_text_ok(out->voter, VOTER_MAX_CHARS)) {
            fail(reason, cap, "bad voter");
            goto poison;
        }
    }
    if (decode_attrs(json_object_get(root, "attrs"), poll_def, out, reason, cap) != 0)
        goto poison;
    return 0;
poison:
    vote_msg_clear(out);
    return -1;
}

void vote_msg_clear(struct vote_msg *m)
{
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}

int chat_msg_decode(const char *buf, size_t len, struct chat_msg *out, char *reason, size_t cap)
{
    static const char *const known[] = { "v",  "kind", "id",          "conversation", "from",
                                         "to", "text", "received_at", NULL };
    memset(out, 0, sizeof *out);
    json_t *root = parse_object(buf, len, reason, cap);
    if (root == NULL)
        return -1;
    out->root = root;
    if (check_envelope(root, "chat", &out->id, &out->received_at, reason, cap) != 0 ||
        only_known_keys(root, known, reason, cap) != 0)
        goto poison;
    out->from = json_string_value(json_object_get(root, "from"));
    out->to = json_string_value(json_object_get(root, "to"));
    out->conversation = json_string_value(json_object_get(root, "conversation"));
    out->text = json_string_value(json_object_get(root, "text"));
    if (!msg_username_valid(out->from) || !msg_username_valid(out->to) ||
        strcmp(out->from, out->to) == 0) {
        fail(reason, cap, "bad from or to");
        goto poison;
    }
    char conv[80];
    int lo_first = strcmp(out->from, out->to) < 0;
    snprintf(conv, sizeof conv, "%s:%s", lo_first ? out->from : out->to,
             lo_first ? out->to : out->from);
    if (out->conversation == NULL || strcmp(conv, out->conversation) != 0) {
        fail(reason, cap, "bad conversation");
        goto poison;
    }
    if (!chat_text_ok(out->text)) {
        fail(reason, cap, "bad text");
        goto poison;
    }
    return 0;
poison:
    chat_msg_clear(out);
    return -1;
}

void chat_msg_clear(struct chat_msg *m)
{
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}
