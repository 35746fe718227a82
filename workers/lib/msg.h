/*
 * msg.h - decoding of consumed Kafka messages (docs/CONTRACT.md schema 1) for the sinks.
 *
 * The poison check itself is common/'s vc_message_check() (libvotecommon.a), the same rules
 * the edge applied before producing, so the sinks can never reject what the edge accepted.
 * This layer only turns a checked message into the fields the sinks write.
 * A message that fails is "poison": it goes to the dead-letter topic with the reason.
 */
#ifndef WORKERS_MSG_H
#define WORKERS_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h" /* common/ */

#define MSG_REASON_MAX 128
#define MSG_ATTRS_MAX VC_POLL_ATTRS_MAX

/* Poll catalog (common's vc_catalog): poll id -> choices and the exact required attributes. */
struct poll_catalog {
    vc_catalog *cat;
};

int poll_catalog_load(struct poll_catalog *cat, const char *path, char *err, size_t errlen);
int poll_catalog_parse(struct poll_catalog *cat, const char *text, char *err, size_t errlen);
void poll_catalog_free(struct poll_catalog *cat);

/* A decoded vote. String pointers live as long as `root` (vote_msg_clear releases it). */
struct vote_msg {
    json_t *root;
    const char *id;
    const char *poll;
    const char *choice;
    const char *voter; /* NULL when the client gave none */
    size_t nattrs;     /* in catalog order */
    const char *attr_names[MSG_ATTRS_MAX];
    const char *attr_values[MSG_ATTRS_MAX];
    int64_t received_at; /* ms since the epoch */
};

/* A decoded chat message: one heap block (the struct followed by its NUL-terminated strings),
 * released with chat_msg_free(). Nothing of the JSON parse survives the decode. */
struct chat_msg {
    const char *id, *conversation, *from, *to, *text;
    size_t id_len, conversation_len, from_len, to_len, text_len;
    int64_t received_at;
};

/* A decoded order (the bookstore): fixed size, no pointers into the message. */
struct order_msg {
    char id[27];    /* ULID */
    char buyer[33]; /* username */
    int64_t book;
    int64_t copies;
    int64_t received_at; /* ms since the epoch */
};

/*
 * Decode + validate. Return 0 on success; -1 with a reason "<code>: <field> <detail>"
 * (code from vc_reason_str, e.g. "unknown_poll: poll ...") when the message is poison.
 * cat may be NULL to skip the catalog checks.
 */
int vote_msg_decode(const struct poll_catalog *cat, const char *buf, size_t len,
                    struct vote_msg *out, char *reason, size_t reason_cap);
void vote_msg_clear(struct vote_msg *m);

/* Chat: parsed and checked inside common's JSON arena (json_arena.h: jansson allocates from
 * a reused per-thread block), the fields copied out into a single allocation. Returns NULL
 * with the reason (same codes as above) when the message is poison or memory ran out. */
struct chat_msg *chat_msg_decode(const char *buf, size_t len, char *reason, size_t reason_cap);
void chat_msg_free(struct chat_msg *m);

/* Order: checked by common's rules (shop.c), copied out; NULL with the reason when poison. */
struct order_msg *order_msg_decode(const char *buf, size_t len, char *reason, size_t reason_cap);
void order_msg_free(struct order_msg *m);

#endif
