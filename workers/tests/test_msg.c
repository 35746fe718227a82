/*
 * test_msg.c - unit tests for vote/chat decoding and the poison rules (lib/msg.c).
 * The rules are common's vc_message_check(); these cases prove the sinks use it (a decoder
 * that accepted any JSON fails them) and that fields come out right for the writers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "msg.h"

static const char catalog_json[] =
    "{\"polls\":[{\"id\":\"guatemala-2027\",\"title\":\"t\",\"choices\":[\"UNE\",\"VAMOS\"],"
    "\"attrs\":[\"department\",\"municipality\",\"station\"]},"
    "{\"id\":\"band-contest\",\"title\":\"b\",\"choices\":[\"ruta-sur\"],\"attrs\":[]}]}";

#define GOOD_VOTE                                                                                  \
    "{\"v\":1,\"kind\":\"vote\",\"id\":\"01JD0000000000000000000001\",\"poll\":\"guatemala-"       \
    "2027\","                                                                                      \
    "\"choice\":\"UNE\",\"voter\":\"dpi-1\",\"attrs\":{\"department\":\"Guatemala\","              \
    "\"municipality\":\"Mixco\",\"station\":\"0101-001\"},\"received_at\":1763786400123}"

static struct poll_catalog cat;

static int setup_catalog(void **state)
{
    (void)state;
    char err[128];
    return poll_catalog_parse(&cat, catalog_json, err, sizeof err);
}

static int teardown_catalog(void **state)
{
    (void)state;
    poll_catalog_free(&cat);
    return 0;
}

static void vote_ok(const char *json)
{
    struct vote_msg v;
    char reason[MSG_REASON_MAX] = "";
    int rc = vote_msg_decode(&cat, json, strlen(json), &v, reason, sizeof reason);
    if (rc != 0)
        print_error("unexpected poison: %s\n", reason);
    assert_int_equal(rc, 0);
    vote_msg_clear(&v);
}

static void vote_poison(const char *json, const char *want_reason)
{
    struct vote_msg v;
    char reason[MSG_REASON_MAX] = "";
    assert_int_equal(vote_msg_decode(&cat, json, strlen(json), &v, reason, sizeof reason), -1);
    /* the reason starts with common's stable code, e.g. "unknown_poll: poll ..." */
    if (strncmp(reason, want_reason, strlen(want_reason)) != 0)
        print_error("reason '%s' does not start with '%s'\n", reason, want_reason);
    assert_int_equal(strncmp(reason, want_reason, strlen(want_reason)), 0);
    assert_null(v.root); /* nothing leaks from a rejected message */
}

static void test_vote_fields_extracted(void **state)
{
    (void)state;
    struct vote_msg v;
    char reason[MSG_REASON_MAX];
    assert_int_equal(vote_msg_decode(&cat, GOOD_VOTE, strlen(GOOD_VOTE), &v, reason, sizeof reason),
                     0);
    assert_string_equal(v.id, "01JD0000000000000000000001");
    assert_string_equal(v.poll, "guatemala-2027");
    assert_string_equal(v.choice, "UNE");
    assert_string_equal(v.voter, "dpi-1");
    assert_int_equal(v.nattrs, 3);
    /* attributes come back in catalog order, whatever the JSON order */
    assert_string_equal(v.attr_names[0], "department");
    assert_string_equal(v.attr_values[1], "Mixco");
    assert_true(v.received_at == 1763786400123LL);
    vote_msg_clear(&v);
}

static void test_vote_without_voter_and_attrs(void **state)
{
    (void)state;
    vote_ok("{\"v\":1,\"kind\":\"vote\",\"id\":\"01JD0000000000000000000002\",\"poll\":\"band-"
            "contest\","
            "\"choice\":\"ruta-sur\",\"attrs\":{},\"received_at\":1}");
}

static void test_vote_poison_rules(void **state)
{
    (void)state;
    vote_poison("not json", "malformed_json");
    vote_poison("[1,2]", "wrong_type");
    vote_poison("{\"v\":2,\"kind\":\"vote\"}", "bad_value: v");
    vote_poison("{\"v\":1,\"kind\":\"chat\"}", "bad_value: kind");
    vote_poison("{\"v\":1,\"kind\":\"vote\",\"id\":\"short\",\"received_at\":1}", "bad_value: id");
    vote_poison(
        "{\"v\":1,\"kind\":\"vote\",\"id\":\"01JD0000000000000000000003\",\"poll\":\"nope\","
        "\"choice\":\"UNE\",\"attrs\":{},\"received_at\":1}",
        "unknown_poll");
    vote_poison("{\"v\":1,\"kind\":\"vote\",\"id\":\"01JD0000000000000000000003\",\"poll\":\"band-"
                "contest\","
                "\"choice\":\"UNE\",\"attrs\":{},\"received_at\":1}",
                "unknown_choice");
    /* missing required attribute */
    vote_poison("{\"v\":1,\"kind\":\"vote\",\"id\":\"01JD0000000000000000000003\",\"poll\":"
                "\"guatemala-2027\","
                "\"choice\":\"UNE\",\"attrs\":{\"department\":\"G\"},\"received_at\":1}",
                "missing_field");
    /* extra field the edge never produces */
    vote_poison("{\"v\":1,\"kind\":\"vote\",\"id\":\"01JD0000000000000000000003\",\"poll\":\"band-"
                "contest\","
                "\"choice\":\"ruta-sur\",\"attrs\":{},\"received_at\":1,\"x\":1}",
                "unknown_field");
    /* control character in the voter */
    vote_poison("{\"v\":1,\"kind\":\"vote\",\"id\":\"01JD0000000000000000000003\",\"poll\":\"band-"
                "contest\","
                "\"choice\":\"ruta-sur\",\"voter\":\"a\\u0001b\",\"attrs\":{},\"received_at\":1}",
                "bad_value: voter");
    /* duplicate keys would make "which value counts" ambiguous */
    vote_poison("{\"v\":1,\"v\":1}", "malformed_json");
}

static void chat_expect(const char *json, int want_rc, const char *want_reason)
{
    char reason[MSG_REASON_MAX] = "";
    struct chat_msg *m = chat_msg_decode(json, strlen(json), reason, sizeof reason);
    assert_int_equal(m == NULL ? -1 : 0, want_rc);
    if (m != NULL)
        chat_msg_free(m);
    else {
        if (strncmp(reason, want_reason, strlen(want_reason)) != 0)
            print_error("reason '%s' does not start with '%s'\n", reason, want_reason);
        assert_int_equal(strncmp(reason, want_reason, strlen(want_reason)), 0);
    }
}

/* Fields come out exact (escapes undone, lengths right) and own their memory: the decode
 * parses inside the JSON arena, which the next decode reuses. */
static void test_chat_fields_copied_out(void **state)
{
    (void)state;
    static const char a[] = "{\"v\":1,\"kind\":\"chat\",\"id\":\"01JD0000000000000000000009\","
                            "\"conversation\":\"alice:bob\","
                            "\"from\":\"bob\",\"to\":\"alice\",\"text\":\"say \\\"hi\\\" \\\\ "
                            "\\u00e9\\n\\ud83d\\ude00\",\"received_at\":1763786400123}";
    static const char b[] =
        "{\"v\":1,\"kind\":\"chat\",\"id\":\"01JD000000000000000000000A\",\"conversation\":\"carol:"
        "dave\","
        "\"from\":\"dave\",\"to\":\"carol\",\"text\":\"second\",\"received_at\":7}";
    char reason[MSG_REASON_MAX] = "";
    struct chat_msg *m = chat_msg_decode(a, strlen(a), reason, sizeof reason);
    assert_non_null(m);
    struct chat_msg *n = chat_msg_decode(b, strlen(b), reason, sizeof reason);
    assert_non_null(n);
    /* m must be intact after the arena was reused for n */
    assert_string_equal(m->id, "01JD0000000000000000000009");
    assert_int_equal(m->id_len, 26);
    assert_string_equal(m->conversation, "alice:bob");
    assert_int_equal(m->conversation_len, 9);
    assert_string_equal(m->from, "bob");
    assert_int_equal(m->from_len, 3);
    assert_string_equal(m->to, "alice");
    assert_int_equal(m->to_len, 5);
    assert_string_equal(m->text, "say \"hi\" \\ \xc3\xa9\n\xf0\x9f\x98\x80");
    assert_int_equal(m->text_len, strlen(m->text));
    assert_true(m->received_at == 1763786400123LL);
    assert_string_equal(n->id, "01JD000000000000000000000A");
    assert_string_equal(n->text, "second");
    assert_true(n->received_at == 7);
    chat_msg_free(m);
    chat_msg_free(n);
}

/* A text too large for the arena block (64 kB) falls back to malloc inside jansson and is
 * still checked like any other (poison, the reason intact); nothing of it leaks (valgrind/ASan runs). */
/* The order sink's decoding: the fields it writes, and the edge's rules as the poison check. */
static void test_order_decode(void **state)
{
    (void)state;
    static const char ok[] = "{\"v\":1,\"kind\":\"order\",\"id\":\"01JD0000000000000000000009\","
                             "\"book\":9007199254740991,"
                             "\"copies\":3,\"buyer\":\"alice\",\"received_at\":1763786400123}";
    char reason[MSG_REASON_MAX] = "";
    struct order_msg *m = order_msg_decode(ok, strlen(ok), reason, sizeof reason);
    assert_non_null(m);
    assert_string_equal(m->id, "01JD0000000000000000000009");
    assert_string_equal(m->buyer, "alice");
    assert_true(m->book == 9007199254740991LL);
    assert_int_equal(m->copies, 3);
    assert_true(m->received_at == 1763786400123LL);
    order_msg_free(m);
    static const char *const poison[] = {
        "{\"v\":1,\"kind\":\"order\",\"id\":\"01JD0000000000000000000009\",\"book\":1,\"copies\":"
        "11,"
        "\"buyer\":\"alice\",\"received_at\":1}",
        "{\"v\":1,\"kind\":\"order\",\"id\":\"01JD0000000000000000000009\",\"book\":1,\"copies\":1,"
        "\"buyer\":\"Al ice\",\"received_at\":1}",
        "{\"v\":1,\"kind\":\"chat\",\"id\":\"01JD0000000000000000000009\",\"book\":1,\"copies\":1,"
        "\"buyer\":\"alice\",\"received_at\":1}",
        "not json",
    };
    for (size_t i = 0; i < sizeof poison / sizeof poison[0]; i++) {
        reason[0] = '\0';
        assert_null(order_msg_decode(poison[i], strlen(poison[i]), reason, sizeof reason));
        assert_true(reason[0] != '\0');
    }
    assert_null(order_msg_decode(NULL, 0, reason, sizeof reason));
}

static void test_chat_large_text(void **state)
{
    (void)state;
    enum { TEXT = 70000 };
    static char json[TEXT + 512];
    int off = snprintf(json, sizeof json,
                       "{\"v\":1,\"kind\":\"chat\",\"id\":\"01JD0000000000000000000009\","
                       "\"conversation\":\"alice:bob\","
                       "\"from\":\"bob\",\"to\":\"alice\",\"received_at\":5,\"text\":\"");
    memset(json + off, 'x', TEXT);
    snprintf(json + off + TEXT, sizeof json - (size_t)off - TEXT, "\"}");
    char reason[MSG_REASON_MAX] = "";
    struct chat_msg *m = chat_msg_decode(json, strlen(json), reason, sizeof reason);
    assert_null(m); /* over the shared 2000-character limit, found after a full parse */
    assert_int_equal(strncmp(reason, "text_too_long", 13), 0);
    assert_null(chat_msg_decode(NULL, 0, reason, sizeof reason));
    assert_string_equal(reason, "empty message");
}

static void test_chat_rules(void **state)
{
    (void)state;
    chat_expect("{\"v\":1,\"kind\":\"chat\",\"id\":\"01JD0000000000000000000009\",\"conversation\":"
                "\"alice:bob\","
                "\"from\":\"bob\",\"to\":\"alice\",\"text\":\"hi\\nthere\",\"received_at\":5}",
                0, NULL);
    /* conversation must be the sorted pair */
    chat_expect("{\"v\":1,\"kind\":\"chat\",\"id\":\"01JD0000000000000000000009\",\"conversation\":"
                "\"bob:alice\","
                "\"from\":\"bob\",\"to\":\"alice\",\"text\":\"hi\",\"received_at\":5}",
                -1, "bad_value: conversation");
    chat_expect("{\"v\":1,\"kind\":\"chat\",\"id\":\"01JD0000000000000000000009\",\"conversation\":"
                "\"Al:bob\","
                "\"from\":\"Al\",\"to\":\"bob\",\"text\":\"hi\",\"received_at\":5}",
                -1, "bad_value: from");
    chat_expect("{\"v\":1,\"kind\":\"chat\",\"id\":\"01JD0000000000000000000009\",\"conversation\":"
                "\"alice:bob\","
                "\"from\":\"bob\",\"to\":\"alice\",\"text\":\"\",\"received_at\":5}",
                -1, "bad_length: text");
    /* NUL cannot be stored in PostgreSQL text: jansson rejects it at parse time */
    chat_expect("{\"v\":1,\"kind\":\"chat\",\"id\":\"01JD0000000000000000000009\",\"conversation\":"
                "\"alice:bob\","
                "\"from\":\"bob\",\"to\":\"alice\",\"text\":\"a\\u0000b\",\"received_at\":5}",
                -1, "malformed_json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vote_fields_extracted),
        cmocka_unit_test(test_vote_without_voter_and_attrs),
        cmocka_unit_test(test_vote_poison_rules),
        cmocka_unit_test(test_chat_rules),
        cmocka_unit_test(test_chat_fields_copied_out),
        cmocka_unit_test(test_chat_large_text),
        cmocka_unit_test(test_order_decode),
    };
    return cmocka_run_group_tests_name("workers-msg", tests, setup_catalog, teardown_catalog);
}
