/*
 * shop.c - order and book validation (see shop.h), on validate.c's JSON
 * rules (validate_int.h).
 */
#include "shop.h"
#include "validate_int.h"
#include "json_arena.h"

#include <string.h>

static const char *const conditions[] = {
    "new", "like_new", "very_good", "good", "acceptable", NULL
};

int vc_book_condition_valid(const char *s)
{
    for (const char *const *c = conditions; *c; c++) {
        if (strcmp(s, *c) == 0) {
            return 1;
        }
    }
    return 0;
}

/* An integer field in [min, max]; *val stays -1 when it is absent and not
 * required. */
static int int_field(json_t *obj, const char *name, int required, int64_t min, int64_t max,
                     int64_t *val, vc_error *err)
{
    json_t *v = json_object_get(obj, name);

    *val = -1;
    if (v == NULL) {
        return required ? vc_fail(err, VC_R_MISSING_FIELD, NULL, name, "required field is missing")
                        : 0;
    }
    if (!json_is_integer(v)) {
        return vc_fail(err, VC_R_WRONG_TYPE, NULL, name, "must be an integer");
    }
    if (json_integer_value(v) < min || json_integer_value(v) > max) {
        return vc_fail(err, VC_R_BAD_VALUE, NULL, name, "must be an integer from %lld to %lld",
                       (long long)min, (long long)max);
    }
    *val = json_integer_value(v);
    return 0;
}

/* ---- orders ---- */

static int validate_order(const vc_limits *lim, const unsigned char *body, size_t len,
                          const char *buyer, const char *id, int64_t received_at, vc_msg *out,
                          vc_error *err)
{
    static const char *const allowed[] = { "book", "copies", NULL };
    char book_s[24], copies_s[24], ra[24];
    int64_t book, copies;
    json_t *root;
    int rc;

    memset(out, 0, sizeof(*out));
    out->kind = VC_KIND_ORDER;
    if (!vc_username_valid(buyer, strlen(buyer))) {
        /* the module checks the token subject first; defence in depth */
        return vc_fail(err, VC_R_BAD_VALUE, NULL, NULL, "buyer is not a valid username");
    }
    if ((root = vc_parse_object(lim, body, len, err)) == NULL) {
        return -1;
    }
    rc = vc_only_fields(root, allowed, NULL, err) < 0 ||
                 int_field(root, "book", 1, 1, VC_BOOK_ID_MAX, &book, err) < 0 ||
                 int_field(root, "copies", 1, 1, VC_ORDER_COPIES_MAX, &copies, err) < 0
             ? -1
             : 0;
    json_decref(root);
    if (rc < 0) {
        return -1;
    }
    size_t book_len = vc_json_out_int(book, book_s);
    size_t copies_len = vc_json_out_int(copies, copies_s);
    size_t ra_len = vc_json_out_int(received_at, ra);

    memcpy(out->key, book_s, book_len);
    out->key[book_len] = '\0';
    out->key_len = book_len;

    const vc_out_part parts[] = {
        PART_LIT("v"),           PART_RAW(STR(SCHEMA_VERSION), sizeof(STR(SCHEMA_VERSION)) - 1),
        PART_LIT("kind"),        PART_LIT("order"),
        PART_LIT("id"),          PART_STR(id, strlen(id)),
        PART_LIT("book"),        PART_RAW(book_s, book_len),
        PART_LIT("copies"),      PART_RAW(copies_s, copies_len),
        PART_LIT("buyer"),       PART_STR(buyer, strlen(buyer)),
        PART_LIT("received_at"), PART_RAW(ra, ra_len),
    };
    return vc_put_msg(parts, sizeof(parts) / sizeof(parts[0]), out, err);
}

int vc_validate_order(const vc_limits *lim, const unsigned char *body, size_t len,
                      const char *buyer, const char *id, int64_t received_at, vc_msg *out,
                      vc_error *err)
{
    vc_json_arena_begin();
    int rc = validate_order(lim, body, len, buyer, id, received_at, out, err);
    vc_json_arena_end();
    return rc;
}

int vc_check_order_msg(json_t *obj, vc_error *err)
{
    static const char *const fields[] = { "v",      "kind",  "id",          "book",
                                          "copies", "buyer", "received_at", NULL };
    json_t *buyer;
    int64_t n;

    if (vc_only_fields(obj, fields, NULL, err) < 0 || vc_check_envelope(obj, "order", err) < 0 ||
        int_field(obj, "book", 1, 1, VC_BOOK_ID_MAX, &n, err) < 0 ||
        int_field(obj, "copies", 1, 1, VC_ORDER_COPIES_MAX, &n, err) < 0) {
        return -1;
    }
    buyer = json_object_get(obj, "buyer");
    if (!json_is_string(buyer) ||
        !vc_username_valid(json_string_value(buyer), json_string_length(buyer))) {
        return vc_fail(err, VC_R_BAD_VALUE, NULL, "buyer", "must be a username");
    }
    return 0;
}

/* ---- books ---- */

int vc_validate_book(const vc_limits *lim, const unsigned char *body, size_t len, int patch,
                     json_t **root, vc_book *out, vc_error *err)
{
    static const char *const allowed[] = { "title",       "author", "condition",
                                           "price_cents", "copies", NULL };
    size_t l;

    memset(out, 0, sizeof(*out));
    if ((*root = vc_parse_object(lim, body, len, err)) == NULL) {
        return -1;
    }
    if (vc_only_fields(*root, allowed, NULL, err) < 0 ||
        vc_str_field(*root, "title", NULL, !patch, VC_BOOK_TITLE_MAX, &out->title, &l, err) < 0 ||
        vc_str_field(*root, "author", NULL, !patch, VC_BOOK_AUTHOR_MAX, &out->author, &l, err) <
            0 ||
        vc_str_field(*root, "condition", NULL, !patch, 32, &out->condition, &l, err) < 0 ||
        int_field(*root, "price_cents", !patch, 1, VC_BOOK_PRICE_MAX, &out->price_cents, err) < 0 ||
        int_field(*root, "copies", !patch, 1, VC_BOOK_COPIES_MAX, &out->copies, err) < 0) {
        return -1;
    }
    if (out->condition && !vc_book_condition_valid(out->condition)) {
        return vc_fail(err, VC_R_BAD_VALUE, NULL, "condition",
                       "must be one of new, like_new, very_good, good, "
                       "acceptable");
    }
    if (patch && json_object_size(*root) == 0) {
        return vc_fail(err, VC_R_MISSING_FIELD, NULL, NULL,
                       "nothing to change: give at least one field");
    }
    return 0;
}
