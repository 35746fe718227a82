/*
 * fuzz_validate.c - libFuzzer target for common/validate.c and shop.c.
 *
 * The first input byte picks the path (vote, chat, poison check of a vote or
 * chat message, order, poison check of an order message, book POST or PATCH
 * body); the rest is the body.  Invariants checked beyond "no crash,
 * no leak, no UB": an accepted request yields JSON that the sinks' poison
 * check accepts (edge and sinks agree), every error carries a status of
 * 400/422 and a field that is valid UTF-8, and a vote gets exactly the same
 * answer (accept/reject, message bytes, key, error) from vc_validate_vote(),
 * which takes the single-pass scanner for the bodies it recognises, as from
 * vc_validate_vote_reference(), jansson alone.
 *
 *   make -C common fuzz FUZZ_SECONDS=30      (short run, part of the tests)
 *   make -C common fuzz FUZZ_SECONDS=3600    (long run, see ngx_vote_module/README.md)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shop.h"
#include "validate.h"

static const char catalog_json[] =
    "{\"polls\":[{\"id\":\"guatemala-2027\",\"title\":\"t\",\"choices\":[\"UNE\",\"VAMOS\"],"
    "\"attrs\":[\"department\",\"municipality\",\"station\"]},"
    "{\"id\":\"band-contest\",\"title\":\"b\",\"choices\":[\"ruta-sur\"],\"attrs\":[]}]}";

static vc_catalog *cat;

/* the scanner path against the jansson reference, on the same input */
static void check_same_vote(const vc_limits *lim, const uint8_t *data, size_t size, int rc,
                            const vc_msg *m, const vc_error *e)
{
    vc_msg r;
    vc_error re;
    int rrc =
        vc_validate_vote_reference(cat, lim, data, size, "01KAMXS8BV0000000000000001", 1, &r, &re);

    if (rc != rrc) {
        fprintf(stderr, "scanner path %d, reference %d\n", rc, rrc);
        abort();
    }
    if (rc == 0) {
        if (m->json_len != r.json_len || memcmp(m->json, r.json, r.json_len) != 0 ||
            m->key_len != r.key_len || memcmp(m->key, r.key, r.key_len) != 0) {
            fprintf(stderr, "scanner path %s (key %s), reference %s (key %s)\n", m->json, m->key,
                    r.json, r.key);
            abort();
        }
        vc_msg_free(&r);
    } else if (e->status != re.status || e->reason != re.reason ||
               strcmp(e->field, re.field) != 0 || strcmp(e->detail, re.detail) != 0) {
        fprintf(stderr, "scanner path %d %s, reference %d %s\n", e->status, e->detail, re.status,
                re.detail);
        abort();
    }
}

static void check_error(const vc_error *e)
{
    if (e->status != 400 && e->status != 422) {
        abort();
    }
    if (!vc_utf8_valid((const unsigned char *)e->field, strlen(e->field))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_limits lim;
    vc_msg m;
    vc_error e;
    const char *id = "01KAMXS8BV0000000000000001";

    if (cat == NULL) {
        char err[256];
        cat = vc_catalog_parse(catalog_json, sizeof(catalog_json) - 1, err, sizeof(err));
        if (cat == NULL)
            abort();
    }
    if (size < 1) {
        return 0;
    }
    vc_limits_default(&lim);
    lim.max_text_chars = 64; /* reachable by the fuzzer */
    uint8_t sel = data[0] & 7;
    data++;
    size--;

    int rc;
    vc_kind kind = VC_KIND_VOTE;
    switch (sel) {
    case 0:
        rc = vc_validate_vote(cat, &lim, data, size, id, 1, &m, &e);
        check_same_vote(&lim, data, size, rc, &m, &e);
        break;
    case 1:
        kind = VC_KIND_CHAT;
        rc = vc_validate_chat(&lim, data, size, "alice", id, 1, &m, &e);
        break;
    case 4:
        kind = VC_KIND_ORDER;
        rc = vc_validate_order(&lim, data, size, "alice", id, 1, &m, &e);
        break;
    case 6:
    case 7: {
        json_t *root;
        vc_book b;
        if (vc_validate_book(&lim, data, size, sel == 7, &root, &b, &e) < 0) {
            check_error(&e);
        } else if ((sel == 6 && (b.title == NULL || b.copies < 1)) ||
                   !vc_book_condition_valid(b.condition ? b.condition : "new")) {
            abort();
        }
        json_decref(root);
        return 0;
    }
    default:
        kind = sel == 2 ? VC_KIND_VOTE : sel == 3 ? VC_KIND_CHAT : VC_KIND_ORDER;
        if (vc_message_check(cat, &lim, kind, data, size, NULL, &e) < 0) {
            if (e.status != 400 && e.status != 422)
                abort();
        }
        return 0;
    }
    if (rc < 0) {
        check_error(&e);
        return 0;
    }
    if (vc_message_check(cat, &lim, kind, (const unsigned char *)m.json, m.json_len, NULL, &e) !=
        0) {
        fprintf(stderr, "edge accepted but sink would reject: %s (%s %s)\n", m.json, e.field,
                e.detail);
        abort();
    }
    /* the message is written without jansson: it must be exactly what
     * json_dumps(JSON_COMPACT) makes of it (same escaping, same order) */
    json_t *j = json_loadb(m.json, m.json_len, 0, NULL);
    char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (d == NULL || strcmp(d, m.json) != 0 || strlen(m.json) != m.json_len) {
        fprintf(stderr, "not jansson's compact dump: %s vs %s\n", m.json, d ? d : "(null)");
        abort();
    }
    free(d);
    json_decref(j);
    vc_msg_free(&m);
    return 0;
}
