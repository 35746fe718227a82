/*
 * fuzz_msg.c - libFuzzer target for the sinks' message decoding (workers/lib/msg.c):
 * whatever bytes a topic holds, as vote (with and without the poll catalog), chat or order.
 *
 * The first byte picks the decoder (& 7: 0 vote with the catalog, 1 vote without, 2 and 3
 * chat, 4-7 order); the rest is the Kafka message value.  Invariants for a decoded message: every field
 * the sinks write (MongoDB document, Redis script arguments, PostgreSQL row) is present,
 * valid UTF-8 without NUL (BSON keys and PostgreSQL text end at a NUL); chat lengths are the
 * strings' lengths; and the fields re-encoded as the contract's message (docs/CONTRACT.md)
 * equal the input JSON: the decode loses nothing and invents nothing.  A refused message has
 * a reason for the dead-letter topic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "msg.h"
#include "validate.h" /* common/: vc_utf8_valid */

static const char catalog_json[] =
    "{\"polls\":[{\"id\":\"guatemala-2027\",\"title\":\"t\",\"choices\":[\"UNE\",\"VAMOS\"],"
    "\"attrs\":[\"department\",\"municipality\",\"station\"]},"
    "{\"id\":\"band-contest\",\"title\":\"b\",\"choices\":[\"ruta-sur\"],\"attrs\":[]}]}";

static struct poll_catalog cat;

static void violation(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "message decode invariant violated: %s\ninput: %.*s\n", what, (int)size,
            (const char *)data);
    abort();
}

static int text_ok(const char *s, size_t len)
{
    return s != NULL && strlen(s) == len && vc_utf8_valid((const unsigned char *)s, len);
}

static int cstr_ok(const char *s) { return s != NULL && text_ok(s, strlen(s)); }

/* the re-encoded message must be the input, as jansson reads it */
static void check_same(json_t *enc, const uint8_t *data, size_t size)
{
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

    if (enc == NULL || in == NULL || !json_equal(enc, in)) {
        char *s = enc ? json_dumps(enc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        fprintf(stderr, "re-encoded: %s\n", s ? s : "(none)");
        free(s);
        violation("decoded message does not re-encode to its input", data, size);
    }
    json_decref(in);
    json_decref(enc);
}

static void fuzz_vote(const struct poll_catalog *c, const uint8_t *data, size_t size)
{
    struct vote_msg m;
    char reason[MSG_REASON_MAX];
    json_t *attrs;

    reason[0] = '\0';
    if (vote_msg_decode(c, (const char *)data, size, &m, reason, sizeof reason) != 0) {
        if (reason[0] == '\0') {
            violation("vote refused without a reason", data, size);
        }
        return;
    }
    if (!cstr_ok(m.id) || !cstr_ok(m.poll) || !cstr_ok(m.choice) ||
        (m.voter != NULL && !cstr_ok(m.voter))) {
        violation("vote field missing, not UTF-8 or with a NUL", data, size);
    }
    attrs = json_object();
    for (size_t i = 0; i < m.nattrs; i++) {
        if (!cstr_ok(m.attr_names[i]) || !cstr_ok(m.attr_values[i])) {
            violation("vote attribute missing, not UTF-8 or with a NUL", data, size);
        }
        json_object_set_new(attrs, m.attr_names[i], json_string(m.attr_values[i]));
    }
    json_t *enc = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:I}", "v", 1, "kind", "vote", "id",
                            m.id, "poll", m.poll, "choice", m.choice, "attrs", attrs, "received_at",
                            (json_int_t)m.received_at);
    if (enc != NULL && m.voter != NULL) {
        json_object_set_new(enc, "voter", json_string(m.voter));
    }
    check_same(enc, data, size);
    vote_msg_clear(&m);
}

static void fuzz_chat(const uint8_t *data, size_t size)
{
    char reason[MSG_REASON_MAX];
    struct chat_msg *m;

    reason[0] = '\0';
    m = chat_msg_decode((const char *)data, size, reason, sizeof reason);
    if (m == NULL) {
        if (reason[0] == '\0') {
            violation("chat message refused without a reason", data, size);
        }
        return;
    }
    if (!text_ok(m->id, m->id_len) || !text_ok(m->conversation, m->conversation_len) ||
        !text_ok(m->from, m->from_len) || !text_ok(m->to, m->to_len) ||
        !text_ok(m->text, m->text_len)) {
        violation("chat field missing, not UTF-8, with a NUL or of another length", data, size);
    }
    check_same(json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "v", 1, "kind", "chat", "id",
                         m->id, "conversation", m->conversation, "from", m->from, "to", m->to,
                         "text", m->text, "received_at", (json_int_t)m->received_at),
               data, size);
    chat_msg_free(m);
}

static void fuzz_order(const uint8_t *data, size_t size)
{
    char reason[MSG_REASON_MAX];
    struct order_msg *m;

    reason[0] = '\0';
    m = order_msg_decode((const char *)data, size, reason, sizeof reason);
    if (m == NULL) {
        if (reason[0] == '\0') {
            violation("order message refused without a reason", data, size);
        }
        return;
    }
    if (!text_ok(m->id, strlen(m->id)) || !text_ok(m->buyer, strlen(m->buyer)) || m->book < 1 ||
        m->copies < 1) {
        violation("order field missing, not UTF-8 or out of range", data, size);
    }
    check_same(json_pack("{s:i, s:s, s:s, s:I, s:I, s:s, s:I}", "v", 1, "kind", "order", "id",
                         m->id, "book", (json_int_t)m->book, "copies", (json_int_t)m->copies,
                         "buyer", m->buyer, "received_at", (json_int_t)m->received_at),
               data, size);
    order_msg_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy;
    unsigned sel;

    if (cat.cat == NULL) {
        char err[256];
        if (poll_catalog_parse(&cat, catalog_json, err, sizeof err) != 0) {
            abort();
        }
    }
    if (size < 1) {
        return 0;
    }
    sel = data[0] & 7;
    size--;
    copy = malloc(size ? size : 1); /* exact size: ASan sees any overread */
    memcpy(copy, data + 1, size);
    if (sel == 0) {
        fuzz_vote(&cat, copy, size);
    } else if (sel == 1) {
        fuzz_vote(NULL, copy, size);
    } else if (sel < 4) {
        fuzz_chat(copy, size);
    } else {
        fuzz_order(copy, size);
    }
    free(copy);
    return 0;
}
