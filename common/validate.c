/*
 * validate.c - vote/chat request validation and the consumed-message schema
 * check (see validate.h).  Every rule lives here once, so the edge and the
 * sinks can never disagree about what a valid message is.
 */
#include "validate.h"
#include "validate_int.h"
#include "json_arena.h"
#include "json_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ulid.h"
#include "vote_scan.h"

static const char *const reason_names[VC_R__COUNT] = {
    [VC_R_OK] = "ok",
    [VC_R_BAD_JSON] = "malformed_json",
    [VC_R_BAD_UTF8] = "invalid_utf8",
    [VC_R_TOO_DEEP] = "too_deep",
    [VC_R_UNKNOWN_FIELD] = "unknown_field",
    [VC_R_MISSING_FIELD] = "missing_field",
    [VC_R_WRONG_TYPE] = "wrong_type",
    [VC_R_BAD_LENGTH] = "bad_length",
    [VC_R_BAD_VALUE] = "bad_value",
    [VC_R_UNKNOWN_POLL] = "unknown_poll",
    [VC_R_UNKNOWN_CHOICE] = "unknown_choice",
    [VC_R_BAD_RECIPIENT] = "invalid_recipient",
    [VC_R_SELF_MESSAGE] = "self_message",
    [VC_R_TEXT_TOO_LONG] = "text_too_long",
    [VC_R_INTERNAL] = "internal",
};

const char *vc_reason_str(vc_reason r)
{
    return (r >= 0 && r < VC_R__COUNT) ? reason_names[r] : "unknown";
}

void vc_limits_default(vc_limits *lim)
{
    lim->max_depth = 4;
    lim->max_text_chars = 2000;
}

/* no C0 controls, no DEL; allow_ws lets chat text keep \t \n \r */
int vc_no_controls(const char *s, size_t len, int allow_ws)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0x7f || (c < 0x20 && !(allow_ws && (c == '\t' || c == '\n' || c == '\r')))) {
            return 0;
        }
    }
    return 1;
}

/* ---- errors ---- */

/* Copy a (possibly hostile) field name, cut at a UTF-8 boundary so the error
 * body stays valid JSON. */
static void set_field(vc_error *err, const char *prefix, const char *name)
{
    size_t o = 0, cap = sizeof(err->field) - 1;
    const char *parts[2] = { prefix, name };

    for (int p = 0; p < 2; p++) {
        const char *s = parts[p];
        if (s == NULL)
            continue;
        size_t l = strlen(s);
        if (o + l > cap) {
            l = cap - o;
            while (l > 0 && ((unsigned char)s[l] & 0xc0) == 0x80)
                l--;
        }
        memcpy(err->field + o, s, l);
        o += l;
        if (p == 0 && prefix != NULL && name != NULL && o < cap)
            err->field[o++] = '.';
    }
    err->field[o] = '\0';
}

int vc_fail(vc_error *err, vc_reason r, const char *prefix, const char *field, const char *fmt, ...)
{
    va_list ap;

    err->reason = r;
    err->status = (r == VC_R_BAD_JSON || r == VC_R_BAD_UTF8 || r == VC_R_TOO_DEEP) ? 400
                  : (r == VC_R_INTERNAL)                                           ? 500
                                                                                   : 422;
    err->field[0] = '\0';
    if (field != NULL) {
        set_field(err, prefix, field);
    }
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- parsing ---- */

json_t *vc_parse_object(const vc_limits *lim, const unsigned char *body, size_t len, vc_error *err)
{
    json_error_t je;
    json_t *root;

    if (len == 0) {
        vc_fail(err, VC_R_BAD_JSON, NULL, NULL, "empty body");
        return NULL;
    }
    /* explicit, although jansson also rejects bad UTF-8: its error text would
     * be reported as malformed JSON, and the contract distinguishes the two */
    if (!vc_utf8_valid(body, len)) {
        vc_fail(err, VC_R_BAD_UTF8, NULL, NULL, "body is not valid UTF-8");
        return NULL;
    }
    if (!vc_json_depth_ok(body, len, lim->max_depth)) {
        vc_fail(err, VC_R_TOO_DEEP, NULL, NULL, "JSON nested deeper than %zu levels",
                lim->max_depth);
        return NULL;
    }
    root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        vc_fail(err, VC_R_BAD_JSON, NULL, NULL, "invalid JSON at byte %d: %s", je.position,
                je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        vc_fail(err, VC_R_WRONG_TYPE, NULL, NULL, "body must be a JSON object");
        return NULL;
    }
    return root;
}

/* every key of obj must be in allowed (NULL-terminated) */
int vc_only_fields(json_t *obj, const char *const *allowed, const char *prefix, vc_error *err)
{
    const char *k;
    json_t *v;

    json_object_foreach(obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(k, *a) == 0) {
                ok = 1;
                break;
            }
        }
        if (!ok) {
            return vc_fail(err, VC_R_UNKNOWN_FIELD, prefix, k, "unknown field");
        }
    }
    return 0;
}

/* string field with 1..max characters and no control characters */
int vc_str_field(json_t *obj, const char *name, const char *prefix, int required, size_t max_chars,
                 const char **val, size_t *vlen, vc_error *err)
{
    json_t *v = json_object_get(obj, name);

    *val = NULL;
    *vlen = 0;
    if (v == NULL) {
        return required
                   ? vc_fail(err, VC_R_MISSING_FIELD, prefix, name, "required field is missing")
                   : 0;
    }
    if (!json_is_string(v)) {
        return vc_fail(err, VC_R_WRONG_TYPE, prefix, name, "must be a string");
    }
    *val = json_string_value(v);
    *vlen = json_string_length(v);
    size_t chars = vc_utf8_chars((const unsigned char *)*val, *vlen);
    if (chars == 0 || chars > max_chars) {
        return vc_fail(err, VC_R_BAD_LENGTH, prefix, name, "must be 1-%zu characters", max_chars);
    }
    if (!vc_no_controls(*val, *vlen, 0)) {
        return vc_fail(err, VC_R_BAD_VALUE, prefix, name, "must not contain control characters");
    }
    return 0;
}

/* ---- votes ---- */

static int check_attrs(const vc_poll *poll, json_t *attrs, int required, vc_error *err)
{
    const char *k, *val;
    json_t *v;
    size_t vlen;

    if (attrs == NULL) {
        if (poll != NULL && poll->nattrs > 0) {
            return vc_fail(err, VC_R_MISSING_FIELD, NULL, "attrs",
                           "poll requires attributes: %s%s%s", poll->attrs[0],
                           poll->nattrs > 1 ? ", ..." : "", "");
        }
        return required
                   ? vc_fail(err, VC_R_MISSING_FIELD, NULL, "attrs", "required field is missing")
                   : 0;
    }
    if (!json_is_object(attrs)) {
        return vc_fail(err, VC_R_WRONG_TYPE, NULL, "attrs", "must be an object");
    }
    json_object_foreach(attrs, k, v)
    {
        if (poll != NULL && vc_poll_attr_index(poll, k, strlen(k)) < 0) {
            return vc_fail(err, VC_R_UNKNOWN_FIELD, "attrs", k, "poll has no such attribute");
        }
        if (vc_str_field(attrs, k, "attrs", 1, VC_ATTR_VALUE_MAX, &val, &vlen, err) < 0) {
            return -1;
        }
    }
    if (poll != NULL) {
        for (size_t i = 0; i < poll->nattrs; i++) {
            if (json_object_get(attrs, poll->attrs[i]) == NULL) {
                return vc_fail(err, VC_R_MISSING_FIELD, "attrs", poll->attrs[i],
                               "required attribute is missing");
            }
        }
    }
    return 0;
}

/* poll, choice, voter, attrs of a vote object; consumed=1 for the sink check */
static int check_vote_body(const vc_catalog *cat, json_t *obj, int consumed, const char **voter,
                           size_t *voter_len, vc_error *err)
{
    const char *poll_id, *choice;
    size_t poll_len, choice_len;
    const vc_poll *poll = NULL;

    if (vc_str_field(obj, "poll", NULL, 1, VC_POLL_ID_MAX, &poll_id, &poll_len, err) < 0) {
        return -1;
    }
    if (cat != NULL && (poll = vc_catalog_find(cat, poll_id, poll_len)) == NULL) {
        return vc_fail(err, VC_R_UNKNOWN_POLL, NULL, "poll", "no such poll");
    }
    if (vc_str_field(obj, "choice", NULL, 1, VC_CHOICE_MAX, &choice, &choice_len, err) < 0) {
        return -1;
    }
    if (poll != NULL && !vc_poll_has_choice(poll, choice, choice_len)) {
        return vc_fail(err, VC_R_UNKNOWN_CHOICE, NULL, "choice", "not a choice of poll %s",
                       poll->id);
    }
    if (vc_str_field(obj, "voter", NULL, 0, VC_VOTER_MAX, voter, voter_len, err) < 0) {
        return -1;
    }
    return check_attrs(poll, json_object_get(obj, "attrs"), consumed, err);
}

/* ---- the produced message (json_out.h) ---- */

int vc_put_msg(const vc_out_part *parts, size_t nparts, vc_msg *out, vc_error *err)
{
    if (vc_json_out_object(parts, nparts, &out->json, &out->json_len) < 0) {
        return vc_fail(err, VC_R_INTERNAL, NULL, NULL, "out of memory");
    }
    return 0;
}

/* The message of a valid vote (key included); attrs is its compact JSON text. */
static int vote_msg(const char *id, int64_t received_at, const char *poll, size_t poll_len,
                    const char *choice, size_t choice_len, const char *voter, size_t voter_len,
                    const char *attrs, size_t attrs_len, vc_msg *out, vc_error *err)
{
    char ra[24];
    size_t ra_len = vc_json_out_int(received_at, ra);

    /* key: the voter keeps one voter's votes in one partition (dedup in order) */
    const char *key = voter ? voter : id;
    out->key_len = voter ? voter_len : strlen(id);
    memcpy(out->key, key, out->key_len);
    out->key[out->key_len] = '\0';

    const vc_out_part parts[] = {
        PART_LIT("v"),           PART_RAW(STR(SCHEMA_VERSION), sizeof(STR(SCHEMA_VERSION)) - 1),
        PART_LIT("kind"),        PART_LIT("vote"),
        PART_LIT("id"),          PART_STR(id, strlen(id)),
        PART_LIT("poll"),        PART_STR(poll, poll_len),
        PART_LIT("choice"),      PART_STR(choice, choice_len),
        PART_LIT("voter"),       PART_STR(voter, voter_len), /* skipped when NULL */
        PART_LIT("attrs"),       PART_RAW(attrs, attrs_len),
        PART_LIT("received_at"), PART_RAW(ra, ra_len),
    };
    return vc_put_msg(parts, sizeof(parts) / sizeof(parts[0]), out, err);
}

static int validate_vote(const vc_catalog *cat, const vc_limits *lim, const unsigned char *body,
                         size_t len, const char *id, int64_t received_at, vc_msg *out,
                         vc_error *err)
{
    static const char *const allowed[] = { "poll", "choice", "voter", "attrs", NULL };
    const char *voter;
    size_t voter_len;
    json_t *root;

    memset(out, 0, sizeof(*out));
    out->kind = VC_KIND_VOTE;
    if ((root = vc_parse_object(lim, body, len, err)) == NULL) {
        return -1;
    }
    if (vc_only_fields(root, allowed, NULL, err) < 0 ||
        check_vote_body(cat, root, 0, &voter, &voter_len, err) < 0) {
        json_decref(root);
        return -1;
    }

    /* check_vote_body() made sure poll, choice (and voter) are strings and
     * attrs, when present, an object of strings */
    json_t *jpoll = json_object_get(root, "poll"), *jchoice = json_object_get(root, "choice");
    char small[512], *ab;
    size_t ab_len;

    if (vc_json_out_string_object(json_object_get(root, "attrs"), small, sizeof(small), &ab,
                                  &ab_len) < 0) {
        json_decref(root);
        return vc_fail(err, VC_R_INTERNAL, NULL, NULL, "out of memory");
    }
    int rc = vote_msg(id, received_at, json_string_value(jpoll), json_string_length(jpoll),
                      json_string_value(jchoice), json_string_length(jchoice), voter, voter_len, ab,
                      ab_len, out, err);
    if (ab != small) {
        free(ab);
    }
    json_decref(root);
    return rc;
}

/* vc_str_field()'s rule for a value the scanner found */
static int scanned_ok(const vc_scan_str *v, size_t max_chars)
{
    size_t chars = vc_utf8_chars((const unsigned char *)v->s, v->len);

    return chars > 0 && chars <= max_chars && vc_no_controls(v->s, v->len, 0);
}

/* The bodies vc_vote_scan() recognises, under check_vote_body()'s rules:
 * 0 = the message is in *out, 1 = not this shape or not valid (the jansson
 * path decides, and words any error), -1 = out of memory. */
static int validate_vote_scanned(const vc_catalog *cat, const vc_limits *lim,
                                 const unsigned char *body, size_t len, const char *id,
                                 int64_t received_at, vc_msg *out, vc_error *err)
{
    vc_vote_scan_fields f;
    const vc_poll *poll;

    if (lim->max_depth < 1 || !vc_vote_scan(body, len, &f) || f.poll.s == NULL ||
        f.choice.s == NULL || !scanned_ok(&f.poll, VC_POLL_ID_MAX) ||
        !scanned_ok(&f.choice, VC_CHOICE_MAX) ||
        (f.voter.s != NULL && !scanned_ok(&f.voter, VC_VOTER_MAX))) {
        return 1;
    }
    if (cat != NULL) {
        poll = vc_catalog_find(cat, f.poll.s, f.poll.len);
        /* a poll with attributes needs the attrs this shape has not got */
        if (poll == NULL || poll->nattrs > 0 ||
            !vc_poll_has_choice(poll, f.choice.s, f.choice.len)) {
            return 1;
        }
    }
    memset(out, 0, sizeof(*out));
    out->kind = VC_KIND_VOTE;
    return vote_msg(id, received_at, f.poll.s, f.poll.len, f.choice.s, f.choice.len, f.voter.s,
                    f.voter.len, "{}", 2, out, err);
}

/* ---- chat ---- */

static int check_text(const vc_limits *lim, json_t *obj, vc_error *err)
{
    json_t *v = json_object_get(obj, "text");

    if (v == NULL) {
        return vc_fail(err, VC_R_MISSING_FIELD, NULL, "text", "required field is missing");
    }
    if (!json_is_string(v)) {
        return vc_fail(err, VC_R_WRONG_TYPE, NULL, "text", "must be a string");
    }
    size_t chars =
        vc_utf8_chars((const unsigned char *)json_string_value(v), json_string_length(v));
    if (chars == 0) {
        return vc_fail(err, VC_R_BAD_LENGTH, NULL, "text", "must not be empty");
    }
    if (chars > lim->max_text_chars) {
        return vc_fail(err, VC_R_TEXT_TOO_LONG, NULL, "text", "longer than %zu characters",
                       lim->max_text_chars);
    }
    if (!vc_no_controls(json_string_value(v), json_string_length(v), 1)) {
        return vc_fail(err, VC_R_BAD_VALUE, NULL, "text",
                       "must not contain control characters "
                       "other than tab and newline");
    }
    return 0;
}

static int check_user(json_t *obj, const char *name, vc_reason r, vc_error *err)
{
    json_t *v = json_object_get(obj, name);

    if (v == NULL) {
        return vc_fail(err, VC_R_MISSING_FIELD, NULL, name, "required field is missing");
    }
    if (!json_is_string(v)) {
        return vc_fail(err, VC_R_WRONG_TYPE, NULL, name, "must be a string");
    }
    if (!vc_username_valid(json_string_value(v), json_string_length(v))) {
        return vc_fail(err, r, NULL, name, "must be a username: 3-32 characters of [a-z0-9_.-]");
    }
    return 0;
}

static int validate_chat(const vc_limits *lim, const unsigned char *body, size_t len,
                         const char *sender, const char *id, int64_t received_at, vc_msg *out,
                         vc_error *err)
{
    static const char *const allowed[] = { "to", "text", NULL };
    json_t *root;
    const char *to;

    memset(out, 0, sizeof(*out));
    out->kind = VC_KIND_CHAT;
    if (!vc_username_valid(sender, strlen(sender))) {
        /* the module checks the token subject first; this is defence in depth */
        return vc_fail(err, VC_R_BAD_VALUE, NULL, NULL, "sender is not a valid username");
    }
    if ((root = vc_parse_object(lim, body, len, err)) == NULL) {
        return -1;
    }
    if (vc_only_fields(root, allowed, NULL, err) < 0 ||
        check_user(root, "to", VC_R_BAD_RECIPIENT, err) < 0 || check_text(lim, root, err) < 0) {
        json_decref(root);
        return -1;
    }
    to = json_string_value(json_object_get(root, "to"));
    if (strcmp(to, sender) == 0) {
        json_decref(root);
        return vc_fail(err, VC_R_SELF_MESSAGE, NULL, "to", "cannot send a message to yourself");
    }
    vc_conversation_id(sender, to, out->conversation);
    out->key_len = strlen(out->conversation);
    memcpy(out->key, out->conversation, out->key_len + 1);

    json_t *jtext = json_object_get(root, "text");
    char ra[24];
    size_t ra_len = vc_json_out_int(received_at, ra);
    const vc_out_part parts[] = {
        PART_LIT("v"),
        PART_RAW(STR(SCHEMA_VERSION), sizeof(STR(SCHEMA_VERSION)) - 1),
        PART_LIT("kind"),
        PART_LIT("chat"),
        PART_LIT("id"),
        PART_STR(id, strlen(id)),
        PART_LIT("conversation"),
        PART_STR(out->conversation, out->key_len),
        PART_LIT("from"),
        PART_STR(sender, strlen(sender)),
        PART_LIT("to"),
        PART_STR(to, strlen(to)),
        PART_LIT("text"),
        PART_STR(json_string_value(jtext), json_string_length(jtext)),
        PART_LIT("received_at"),
        PART_RAW(ra, ra_len),
    };
    int rc = vc_put_msg(parts, sizeof(parts) / sizeof(parts[0]), out, err);
    json_decref(root);
    return rc;
}

int vc_validate_vote(const vc_catalog *cat, const vc_limits *lim, const unsigned char *body,
                     size_t len, const char *id, int64_t received_at, vc_msg *out, vc_error *err)
{
    int rc = validate_vote_scanned(cat, lim, body, len, id, received_at, out, err);

    if (rc <= 0) {
        return rc;
    }
    return vc_validate_vote_reference(cat, lim, body, len, id, received_at, out, err);
}

/* The parse tree lives in the JSON arena (json_arena.c): nothing of it
 * survives these calls, the message is copied into out->json. */
int vc_validate_vote_reference(const vc_catalog *cat, const vc_limits *lim,
                               const unsigned char *body, size_t len, const char *id,
                               int64_t received_at, vc_msg *out, vc_error *err)
{
    vc_json_arena_begin();
    int rc = validate_vote(cat, lim, body, len, id, received_at, out, err);
    vc_json_arena_end();
    return rc;
}

int vc_validate_chat(const vc_limits *lim, const unsigned char *body, size_t len,
                     const char *sender, const char *id, int64_t received_at, vc_msg *out,
                     vc_error *err)
{
    vc_json_arena_begin();
    int rc = validate_chat(lim, body, len, sender, id, received_at, out, err);
    vc_json_arena_end();
    return rc;
}

void vc_msg_free(vc_msg *m)
{
    free(m->json);
    m->json = NULL;
    m->json_len = 0;
}

/* ---- consumed-message check (sinks) ---- */

int vc_check_envelope(json_t *obj, const char *kind, vc_error *err)
{
    json_t *v = json_object_get(obj, "v");
    json_t *k = json_object_get(obj, "kind");
    json_t *id = json_object_get(obj, "id");
    json_t *ra = json_object_get(obj, "received_at");

    if (!json_is_integer(v) || json_integer_value(v) != SCHEMA_VERSION) {
        return vc_fail(err, VC_R_BAD_VALUE, NULL, "v", "schema version must be %d", SCHEMA_VERSION);
    }
    if (!json_is_string(k) || strcmp(json_string_value(k), kind) != 0) {
        return vc_fail(err, VC_R_BAD_VALUE, NULL, "kind", "kind must be \"%s\"", kind);
    }
    if (!json_is_string(id) || !vc_ulid_valid(json_string_value(id), json_string_length(id))) {
        return vc_fail(err, VC_R_BAD_VALUE, NULL, "id", "id must be a ULID");
    }
    if (!json_is_integer(ra) || json_integer_value(ra) <= 0) {
        return vc_fail(err, VC_R_BAD_VALUE, NULL, "received_at", "must be a positive integer (ms)");
    }
    return 0;
}

static int check_chat_msg(const vc_limits *lim, json_t *obj, vc_error *err)
{
    char conv[VC_CONV_MAX + 1];
    json_t *c;

    if (check_user(obj, "from", VC_R_BAD_VALUE, err) < 0 ||
        check_user(obj, "to", VC_R_BAD_RECIPIENT, err) < 0 || check_text(lim, obj, err) < 0) {
        return -1;
    }
    const char *from = json_string_value(json_object_get(obj, "from"));
    const char *to = json_string_value(json_object_get(obj, "to"));
    if (strcmp(from, to) == 0) {
        return vc_fail(err, VC_R_SELF_MESSAGE, NULL, "to", "from == to");
    }
    vc_conversation_id(from, to, conv);
    c = json_object_get(obj, "conversation");
    if (!json_is_string(c) || strcmp(json_string_value(c), conv) != 0) {
        return vc_fail(err, VC_R_BAD_VALUE, NULL, "conversation", "must be \"%s\"", conv);
    }
    return 0;
}

int vc_message_check(const vc_catalog *cat, const vc_limits *lim, vc_kind kind,
                     const unsigned char *buf, size_t len, json_t **parsed, vc_error *err)
{
    static const char *const vote_fields[] = { "v",     "kind",  "id",          "poll", "choice",
                                               "voter", "attrs", "received_at", NULL };
    static const char *const chat_fields[] = { "v",    "kind", "id",   "conversation",
                                               "from", "to",   "text", "received_at",
                                               NULL };
    const char *voter;
    size_t voter_len;
    json_t *root;
    int rc;

    if (parsed) {
        *parsed = NULL;
    }
    if ((root = vc_parse_object(lim, buf, len, err)) == NULL) {
        return -1;
    }
    if (kind == VC_KIND_VOTE) {
        rc = vc_only_fields(root, vote_fields, NULL, err) < 0 ||
                     vc_check_envelope(root, "vote", err) < 0 ||
                     check_vote_body(cat, root, 1, &voter, &voter_len, err) < 0
                 ? -1
                 : 0;
    } else if (kind == VC_KIND_ORDER) {
        rc = vc_check_order_msg(root, err);
    } else {
        rc = vc_only_fields(root, chat_fields, NULL, err) < 0 ||
                     vc_check_envelope(root, "chat", err) < 0 || check_chat_msg(lim, root, err) < 0
                 ? -1
                 : 0;
    }
    if (rc < 0 || parsed == NULL) {
        json_decref(root);
    } else {
        *parsed = root;
    }
    return rc;
}
