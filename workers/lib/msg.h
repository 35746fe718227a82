/*
 * msg.h - decoding and schema re-check of consumed Kafka messages (docs/CONTRACT.md).
 *
 * A message that fails here is "poison": it goes to the dead-letter topic with the reason.
 * The checks mirror what the edge produces, so anything failing them was not produced by a
 * healthy edge. TODO(consolidate): when common/ ships vc_message_check() in libvotecommon.a,
 * delegate the schema part to it and keep only the field extraction here.
 */
#ifndef WORKERS_MSG_H
#define WORKERS_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_REASON_MAX 128
#define MSG_ATTRS_MAX 16
#define MSG_TEXT_MAX_CHARS 2000

/* Poll catalog: poll id -> allowed choices and the exact set of required attributes. */
struct poll_catalog {
    json_t *root; /* {"polls":[{"id","choices":[...],"attrs":[...]}]} */
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
    const char *voter;                         /* NULL when the client gave none */
    size_t nattrs;                              /* in catalog order */
    const char *attr_names[MSG_ATTRS_MAX];
    const char *attr_values[MSG_ATTRS_MAX];
    int64_t received_at;                        /* ms since the epoch */
};

struct chat_msg {
    json_t *root;
    const char *id;
    const char *conversation;
    const char *from;
    const char *to;
    const char *text;
    int64_t received_at;
};

/*
 * Decode + validate. Return 0 on success; -1 with a short reason (stable text such as
 * "bad json", "unknown poll") when the message is poison. cat may be NULL to skip the
 * catalog checks (poll/choice/attr names are then only type-checked).
 */
int vote_msg_decode(const struct poll_catalog *cat, const char *buf, size_t len,
                    struct vote_msg *out, char *reason, size_t reason_cap);
void vote_msg_clear(struct vote_msg *m);

int chat_msg_decode(const char *buf, size_t len, struct chat_msg *out, char *reason,
                    size_t reason_cap);
void chat_msg_clear(struct chat_msg *m);

/* Helpers exposed for unit tests. */
int msg_ulid_valid(const char *s);
int msg_username_valid(const char *s);
/* 1 when s is 1..max_chars UTF-8 characters with no control characters. */
int msg_text_ok(const char *s, size_t max_chars);

#endif
