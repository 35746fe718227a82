/*
 * msg.c - decoding of vote and chat messages on top of common's poison check (see msg.h).
 * Chat messages are parsed inside common's JSON arena and copied out into one allocation.
 */
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_arena.h" /* common/ */
#include "validate.h"   /* common/ */

int poll_catalog_load(struct poll_catalog *cat, const char *path, char *err, size_t errlen)
{
    cat->cat = vc_catalog_load(path, err, errlen);
    return cat->cat ? 0 : -1;
}

int poll_catalog_parse(struct poll_catalog *cat, const char *text, char *err, size_t errlen)
{
    cat->cat = vc_catalog_parse(text, strlen(text), err, errlen);
    return cat->cat ? 0 : -1;
}

void poll_catalog_free(struct poll_catalog *cat)
{
    if (cat->cat != NULL)
        vc_catalog_free(cat->cat);
    cat->cat = NULL;
}

/* Run the shared check; on failure describe it in `reason` (it becomes the dlq-reason). */
static json_t *checked_root(const vc_catalog *cat, vc_kind kind, const char *buf, size_t len,
                            char *reason, size_t cap)
{
    vc_limits lim;
    vc_error err;
    json_t *root = NULL;
    memset(&err, 0, sizeof err);
    vc_limits_default(&lim);
    if (vc_message_check(cat, &lim, kind, (const unsigned char *)buf, len, &root, &err) != 0) {
        snprintf(reason, cap, "%s: %s%s%s", vc_reason_str(err.reason), err.field,
                 err.field[0] ? " " : "", err.detail);
        return NULL;
    }
    return root;
}

static const char *str(json_t *root, const char *key)
{
    return json_string_value(json_object_get(root, key));
}

/* attrs in catalog order when the poll is known, else in object order. */
static void extract_attrs(const vc_catalog *cat, json_t *attrs, struct vote_msg *out)
{
    const vc_poll *poll = cat ? vc_catalog_find(cat, out->poll, strlen(out->poll)) : NULL;
    out->nattrs = 0;
    if (poll != NULL) {
        for (size_t i = 0; i < poll->nattrs && i < MSG_ATTRS_MAX; i++) {
            out->attr_names[out->nattrs] = poll->attrs[i];
            out->attr_values[out->nattrs++] = str(attrs, poll->attrs[i]);
        }
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach(attrs, key, val)
    {
        if (out->nattrs == MSG_ATTRS_MAX || !json_is_string(val))
            break;
        out->attr_names[out->nattrs] = key;
        out->attr_values[out->nattrs++] = json_string_value(val);
    }
}

int vote_msg_decode(const struct poll_catalog *cat, const char *buf, size_t len,
                    struct vote_msg *out, char *reason, size_t cap)
{
    memset(out, 0, sizeof *out);
    const vc_catalog *vc = cat ? cat->cat : NULL;
    json_t *root = checked_root(vc, VC_KIND_VOTE, buf, len, reason, cap);
    if (root == NULL)
        return -1;
    out->root = root;
    out->id = str(root, "id");
    out->poll = str(root, "poll");
    out->choice = str(root, "choice");
    out->voter = str(root, "voter");
    out->received_at = json_integer_value(json_object_get(root, "received_at"));
    extract_attrs(vc, json_object_get(root, "attrs"), out);
    if (out->id == NULL || out->poll == NULL || out->choice == NULL) {
        /* Only reachable if the shared check and this file disagree on the schema. */
        snprintf(reason, cap, "internal: checked vote lacks id/poll/choice");
        vote_msg_clear(out);
        return -1;
    }
    return 0;
}

void vote_msg_clear(struct vote_msg *m)
{
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}

/* Copy one checked string field into the block at *pos. */
static const char *copy_field(json_t *root, const char *key, char **pos, size_t *len_out)
{
    json_t *v = json_object_get(root, key);
    if (!json_is_string(v))
        return NULL;
    size_t n = json_string_length(v);
    char *dst = *pos;
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    *pos += n + 1;
    *len_out = n;
    return dst;
}

/* The five string fields together can never be longer than the JSON text they were
 * unescaped from, so one block of sizeof(struct) + len + 5 terminators holds them all. */
static struct chat_msg *chat_msg_from_root(json_t *root, size_t len, char *reason, size_t cap)
{
    struct chat_msg *m = malloc(sizeof *m + len + 5);
    if (m == NULL) {
        snprintf(reason, cap, "out of memory");
        return NULL;
    }
    char *pos = (char *)(m + 1);
    m->id = copy_field(root, "id", &pos, &m->id_len);
    m->conversation = m->id ? copy_field(root, "conversation", &pos, &m->conversation_len) : NULL;
    m->from = m->conversation ? copy_field(root, "from", &pos, &m->from_len) : NULL;
    m->to = m->from ? copy_field(root, "to", &pos, &m->to_len) : NULL;
    m->text = m->to ? copy_field(root, "text", &pos, &m->text_len) : NULL;
    m->received_at = json_integer_value(json_object_get(root, "received_at"));
    if (m->text == NULL) {
        /* Only reachable if the shared check and this file disagree on the schema. */
        snprintf(reason, cap, "internal: checked chat message lacks a field");
        free(m);
        return NULL;
    }
    return m;
}

struct chat_msg *chat_msg_decode(const char *buf, size_t len, char *reason, size_t cap)
{
    if (buf == NULL) {
        snprintf(reason, cap, "empty message");
        return NULL;
    }
    vc_json_arena_begin();
    struct chat_msg *m = NULL;
    json_t *root = checked_root(NULL, VC_KIND_CHAT, buf, len, reason, cap);
    if (root != NULL) {
        m = chat_msg_from_root(root, len, reason, cap);
        json_decref(root); /* frees what outgrew the arena; arena frees are no-ops */
    }
    vc_json_arena_end();
    return m;
}

void chat_msg_free(struct chat_msg *m) { free(m); }

struct order_msg *order_msg_decode(const char *buf, size_t len, char *reason, size_t cap)
{
    if (buf == NULL) {
        snprintf(reason, cap, "empty message");
        return NULL;
    }
    vc_json_arena_begin();
    struct order_msg *m = NULL;
    json_t *root = checked_root(NULL, VC_KIND_ORDER, buf, len, reason, cap);
    if (root != NULL && (m = calloc(1, sizeof *m)) == NULL)
        snprintf(reason, cap, "out of memory");
    if (m != NULL) {
        /* vc_message_check() bounded both strings: a ULID and a 3-32 byte username */
        snprintf(m->id, sizeof m->id, "%s", json_string_value(json_object_get(root, "id")));
        snprintf(m->buyer, sizeof m->buyer, "%s",
                 json_string_value(json_object_get(root, "buyer")));
        m->book = json_integer_value(json_object_get(root, "book"));
        m->copies = json_integer_value(json_object_get(root, "copies"));
        m->received_at = json_integer_value(json_object_get(root, "received_at"));
    }
    json_decref(root);
    vc_json_arena_end();
    return m;
}

void order_msg_free(struct order_msg *m) { free(m); }
