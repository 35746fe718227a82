/* test_validate.c - cmocka tests for common/validate.c: the exact messages the
 * edge produces, every rejection reason with its status and field, and the
 * sinks' poison check accepting what the edge produces and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "validate.h"

#include "catalog_fixture.h"

static vc_limits lim;

static int setup(void **state)
{
    vc_limits_default(&lim);
    return catalog_setup(state);
}

static int vote(const char *body, vc_msg *m, vc_error *e)
{
    return vc_validate_vote(cat, &lim, (const unsigned char *)body, strlen(body), ID, TS, m, e);
}

static int chat(const char *body, const char *sender, vc_msg *m, vc_error *e)
{
    return vc_validate_chat(&lim, (const unsigned char *)body, strlen(body), sender, ID, TS, m, e);
}

static void expect_vote_err(const char *body, int status, vc_reason r, const char *field)
{
    vc_msg m;
    vc_error e;
    if (vote(body, &m, &e) == 0) {
        fail_msg("accepted: %s", body);
    }
    if (e.status != status || e.reason != r || strcmp(e.field, field) != 0) {
        fail_msg("%s -> %d %s field=%s (%s); want %d %s field=%s", body, e.status,
                 vc_reason_str(e.reason), e.field, e.detail, status, vc_reason_str(r), field);
    }
    assert_null(m.json);
}

static void expect_chat_err(const char *body, int status, vc_reason r, const char *field)
{
    vc_msg m;
    vc_error e;
    if (chat(body, "alice", &m, &e) == 0) {
        fail_msg("accepted: %s", body);
    }
    if (e.status != status || e.reason != r || strcmp(e.field, field) != 0) {
        fail_msg("%s -> %d %s field=%s (%s); want %d %s field=%s", body, e.status,
                 vc_reason_str(e.reason), e.field, e.detail, status, vc_reason_str(r), field);
    }
}

static void test_vote_ok(void **state)
{
    (void)state;
    vc_msg m;
    vc_error e;

    assert_int_equal(vote("{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"voter\":\"dpi-1234\","
                          "\"attrs\":{\"station\":\"0101-001\",\"department\":\"Guatemala\","
                          "\"municipality\":\"Mixco\"}}",
                          &m, &e),
                     0);
    assert_string_equal(
        m.json,
        "{\"v\":1,\"kind\":\"vote\",\"id\":\"" ID
        "\",\"poll\":\"guatemala-2027\",\"choice\":\"UNE\","
        "\"voter\":\"dpi-1234\",\"attrs\":{\"station\":\"0101-001\",\"department\":\"Guatemala\","
        "\"municipality\":\"Mixco\"},\"received_at\":1763786400123}");
    assert_string_equal(m.key, "dpi-1234");
    assert_int_equal(m.key_len, 8);
    vc_msg_free(&m);

    /* no voter: keyed by id, attrs normalised to {} */
    assert_int_equal(vote(" {\"choice\":\"ruta-sur\", \"poll\":\"band-contest\"}\n", &m, &e), 0);
    assert_string_equal(m.json,
                        "{\"v\":1,\"kind\":\"vote\",\"id\":\"" ID "\",\"poll\":\"band-contest\","
                        "\"choice\":\"ruta-sur\",\"attrs\":{},\"received_at\":1763786400123}");
    assert_string_equal(m.key, ID);
    vc_msg_free(&m);

    /* non-ASCII attribute value, 128 characters (256 bytes) is still fine */
    char body[1024], val[400] = "";
    for (int i = 0; i < 128; i++)
        strcat(val, "\xc3\xa9");
    snprintf(body, sizeof(body),
             "{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"attrs\":"
             "{\"department\":\"%s\",\"municipality\":\"Mixco\",\"station\":\"1\"}}",
             val);
    assert_int_equal(vote(body, &m, &e), 0);
    vc_msg_free(&m);
}

static void test_vote_errors(void **state)
{
    (void)state;
    expect_vote_err("", 400, VC_R_BAD_JSON, "");
    expect_vote_err("{\"poll\":", 400, VC_R_BAD_JSON, "");
    expect_vote_err("{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}x", 400, VC_R_BAD_JSON, "");
    expect_vote_err("{\"poll\":\"band-contest\",\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}",
                    400, VC_R_BAD_JSON, "");
    expect_vote_err("{\"poll\":\"band-\xff\",\"choice\":\"x\"}", 400, VC_R_BAD_UTF8, "");
    expect_vote_err("{\"poll\":\"\xed\xa0\x80\",\"choice\":\"x\"}", 400, VC_R_BAD_UTF8,
                    ""); /* surrogate */
    expect_vote_err("{\"poll\":\"\xc0\xaf\",\"choice\":\"x\"}", 400, VC_R_BAD_UTF8,
                    ""); /* overlong */
    expect_vote_err("{\"a\":[[[[[1]]]]]}", 400, VC_R_TOO_DEEP, "");
    expect_vote_err("[1]", 422, VC_R_WRONG_TYPE, "");
    expect_vote_err("{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"x\":1}", 422,
                    VC_R_UNKNOWN_FIELD, "x");
    expect_vote_err("{\"choice\":\"ruta-sur\"}", 422, VC_R_MISSING_FIELD, "poll");
    expect_vote_err("{\"poll\":\"band-contest\"}", 422, VC_R_MISSING_FIELD, "choice");
    expect_vote_err("{\"poll\":7,\"choice\":\"ruta-sur\"}", 422, VC_R_WRONG_TYPE, "poll");
    expect_vote_err("{\"poll\":\"nope\",\"choice\":\"ruta-sur\"}", 422, VC_R_UNKNOWN_POLL, "poll");
    expect_vote_err("{\"poll\":\"band-contest\",\"choice\":\"UNE\"}", 422, VC_R_UNKNOWN_CHOICE,
                    "choice");
    expect_vote_err("{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"voter\":\"\"}", 422,
                    VC_R_BAD_LENGTH, "voter");
    expect_vote_err("{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"voter\":null}", 422,
                    VC_R_WRONG_TYPE, "voter");
    expect_vote_err("{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"voter\":\"a\\u0001\"}",
                    422, VC_R_BAD_VALUE, "voter");
    expect_vote_err("{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"attrs\":{\"x\":\"1\"}}",
                    422, VC_R_UNKNOWN_FIELD, "attrs.x");
    expect_vote_err("{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\"}", 422, VC_R_MISSING_FIELD,
                    "attrs");
    expect_vote_err("{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"attrs\":[]}", 422,
                    VC_R_WRONG_TYPE, "attrs");
    expect_vote_err("{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"attrs\":"
                    "{\"department\":\"G\",\"municipality\":\"M\"}}",
                    422, VC_R_MISSING_FIELD, "attrs.station");
    expect_vote_err("{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"attrs\":"
                    "{\"department\":\"G\",\"municipality\":\"\",\"station\":\"1\"}}",
                    422, VC_R_BAD_LENGTH, "attrs.municipality");
    expect_vote_err("{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"attrs\":"
                    "{\"department\":1,\"municipality\":\"M\",\"station\":\"1\"}}",
                    422, VC_R_WRONG_TYPE, "attrs.department");
    expect_vote_err("{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"attrs\":"
                    "{\"department\":\"G\\n\",\"municipality\":\"M\",\"station\":\"1\"}}",
                    422, VC_R_BAD_VALUE, "attrs.department");
    expect_vote_err("{\"poll\":\"band-contest\",\"choice\":\"ruta\\u0000sur\"}", 400, VC_R_BAD_JSON,
                    "");

    /* 129-character attribute value */
    char body[1024], val[200];
    memset(val, 'a', 129);
    val[129] = '\0';
    snprintf(body, sizeof(body),
             "{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"attrs\":"
             "{\"department\":\"%s\",\"municipality\":\"M\",\"station\":\"1\"}}",
             val);
    expect_vote_err(body, 422, VC_R_BAD_LENGTH, "attrs.department");
}

static void test_long_field_name_cut_at_utf8_boundary(void **state)
{
    (void)state;
    char body[1024] = "{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"";
    for (int i = 0; i < 100; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\":1}");
    vc_msg m;
    vc_error e;
    assert_int_equal(vote(body, &m, &e), -1);
    assert_int_equal(e.reason, VC_R_UNKNOWN_FIELD);
    assert_true(strlen(e.field) <= VC_FIELD_MAX - 1);
    assert_true(vc_utf8_valid((const unsigned char *)e.field, strlen(e.field)));
}

/* The message is written by hand (no jansson object, no json_dumps): it must be
 * byte for byte jansson's compact dump of the same fields, including escaping
 * of quotes, backslashes and controls, and the body's attribute order. */
static void expect_jansson_dump(const vc_msg *m)
{
    json_t *j = json_loadb(m->json, m->json_len, 0, NULL);
    char *d;

    assert_non_null(j);
    d = json_dumps(j, JSON_COMPACT);
    assert_non_null(d);
    assert_string_equal(m->json, d);
    assert_int_equal(strlen(m->json), m->json_len);
    free(d);
    json_decref(j);
}

static void test_message_escaping(void **state)
{
    (void)state;
    vc_msg m;
    vc_error e;

    assert_int_equal(
        vote("{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"voter\":\"a\\\"b\\\\c/d "
             "\\u00e9\u20ac\","
             "\"attrs\":{\"municipality\":\"M\\\"x\",\"station\":\"\\\\\",\"department\":\"G/\"}}",
             &m, &e),
        0);
    assert_string_equal(
        m.json, "{\"v\":1,\"kind\":\"vote\",\"id\":\"" ID
                "\",\"poll\":\"guatemala-2027\",\"choice\":\"UNE\","
                "\"voter\":\"a\\\"b\\\\c/d "
                "\xc3\xa9\u20ac\",\"attrs\":{\"municipality\":\"M\\\"x\",\"station\":\"\\\\\","
                "\"department\":\"G/\"},\"received_at\":1763786400123}");
    expect_jansson_dump(&m);
    vc_msg_free(&m);

    assert_int_equal(
        chat("{\"text\":\"tab\\there\\r\\n\\\"q\\\" \\\\ \\/ \\ud83d\\ude00\",\"to\":\"bob\"}",
             "alice", &m, &e),
        0);
    assert_string_equal(m.json, "{\"v\":1,\"kind\":\"chat\",\"id\":\"" ID
                                "\",\"conversation\":\"alice:bob\","
                                "\"from\":\"alice\",\"to\":\"bob\",\"text\":"
                                "\"tab\\there\\r\\n\\\"q\\\" \\\\ / \xf0\x9f\x98\x80\","
                                "\"received_at\":1763786400123}");
    expect_jansson_dump(&m);
    vc_msg_free(&m);

    /* attributes longer than the writer's stack buffer */
    char body[2048], val[400] = "";
    for (int i = 0; i < 120; i++)
        strcat(val, "\\\"");
    snprintf(body, sizeof(body),
             "{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\",\"attrs\":{"
             "\"department\":\"%s\",\"municipality\":\"%s\",\"station\":\"%s\"}}",
             val, val, val);
    assert_int_equal(vote(body, &m, &e), 0);
    expect_jansson_dump(&m);
    vc_msg_free(&m);
}

static void test_chat_ok(void **state)
{
    (void)state;
    vc_msg m;
    vc_error e;

    assert_int_equal(chat("{\"to\":\"bob\",\"text\":\"hola \\u00e9\\n\"}", "zed", &m, &e), 0);
    assert_string_equal(m.json,
                        "{\"v\":1,\"kind\":\"chat\",\"id\":\"" ID "\",\"conversation\":\"bob:zed\","
                        "\"from\":\"zed\",\"to\":\"bob\",\"text\":\"hola \xc3\xa9\\n\","
                        "\"received_at\":1763786400123}");
    assert_string_equal(m.key, "bob:zed");
    assert_string_equal(m.conversation, "bob:zed");
    vc_msg_free(&m);

    /* exactly 2000 characters, each 3 bytes: counted in characters not bytes */
    size_t n = 2000 * 3 + 64;
    char *body = malloc(n);
    strcpy(body, "{\"to\":\"bob\",\"text\":\"");
    for (int i = 0; i < 2000; i++)
        strcat(body, "\xe2\x82\xac");
    strcat(body, "\"}");
    assert_int_equal(chat(body, "alice", &m, &e), 0);
    vc_msg_free(&m);
    body[strlen(body) - 2] = '\0';
    strcat(body, "x\"}");
    expect_chat_err(body, 422, VC_R_TEXT_TOO_LONG, "text");
    free(body);
}

static void test_chat_errors(void **state)
{
    (void)state;
    expect_chat_err("{\"to\":\"bob\"}", 422, VC_R_MISSING_FIELD, "text");
    expect_chat_err("{\"text\":\"hi\"}", 422, VC_R_MISSING_FIELD, "to");
    expect_chat_err("{\"to\":\"bob\",\"text\":\"hi\",\"from\":\"eve\"}", 422, VC_R_UNKNOWN_FIELD,
                    "from");
    expect_chat_err("{\"to\":\"Bob\",\"text\":\"hi\"}", 422, VC_R_BAD_RECIPIENT, "to");
    expect_chat_err("{\"to\":\"bo\",\"text\":\"hi\"}", 422, VC_R_BAD_RECIPIENT, "to");
    expect_chat_err("{\"to\":\"a:b\",\"text\":\"hi\"}", 422, VC_R_BAD_RECIPIENT, "to");
    expect_chat_err("{\"to\":\"abcdefghijabcdefghijabcdefghijabc\",\"text\":\"hi\"}", 422,
                    VC_R_BAD_RECIPIENT, "to");
    expect_chat_err("{\"to\":[\"bob\"],\"text\":\"hi\"}", 422, VC_R_WRONG_TYPE, "to");
    expect_chat_err("{\"to\":\"bob\",\"text\":5}", 422, VC_R_WRONG_TYPE, "text");
    expect_chat_err("{\"to\":\"bob\",\"text\":\"\"}", 422, VC_R_BAD_LENGTH, "text");
    expect_chat_err("{\"to\":\"bob\",\"text\":\"a\\u0007\"}", 422, VC_R_BAD_VALUE, "text");
    expect_chat_err("{\"to\":\"alice\",\"text\":\"me\"}", 422, VC_R_SELF_MESSAGE, "to");
    expect_chat_err("{\"to\":\"bob\",\"text\":\"\xe2\x82\"}", 400, VC_R_BAD_UTF8, "");
}

static void test_message_check_roundtrip(void **state)
{
    (void)state;
    vc_msg m;
    vc_error e;
    json_t *j;

    assert_int_equal(
        vote("{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"voter\":\"v1\"}", &m, &e), 0);
    assert_int_equal(
        vc_message_check(cat, &lim, VC_KIND_VOTE, (unsigned char *)m.json, m.json_len, &j, &e), 0);
    assert_string_equal(json_string_value(json_object_get(j, "voter")), "v1");
    json_decref(j);
    /* wrong kind */
    assert_int_equal(
        vc_message_check(cat, &lim, VC_KIND_CHAT, (unsigned char *)m.json, m.json_len, NULL, &e),
        -1);
    vc_msg_free(&m);

    assert_int_equal(chat("{\"to\":\"bob\",\"text\":\"hi\"}", "alice", &m, &e), 0);
    assert_int_equal(
        vc_message_check(NULL, &lim, VC_KIND_CHAT, (unsigned char *)m.json, m.json_len, NULL, &e),
        0);
    vc_msg_free(&m);
}

static void expect_poison(vc_kind k, const char *json, const char *field)
{
    vc_error e;
    if (vc_message_check(cat, &lim, k, (const unsigned char *)json, strlen(json), NULL, &e) == 0) {
        fail_msg("poison accepted: %s", json);
    }
    if (strcmp(e.field, field) != 0) {
        fail_msg("%s: field %s (%s), want %s", json, e.field, e.detail, field);
    }
}

static void test_message_check_poison(void **state)
{
    (void)state;
    const char *ok = "{\"v\":1,\"kind\":\"vote\",\"id\":\"" ID "\",\"poll\":\"band-contest\","
                     "\"choice\":\"ruta-sur\",\"attrs\":{},\"received_at\":1}";
    vc_error e;
    assert_int_equal(
        vc_message_check(cat, &lim, VC_KIND_VOTE, (const unsigned char *)ok, strlen(ok), NULL, &e),
        0);

    expect_poison(VC_KIND_VOTE,
                  "{\"v\":2,\"kind\":\"vote\",\"id\":\"" ID "\",\"poll\":\"band-contest\","
                  "\"choice\":\"ruta-sur\",\"attrs\":{},\"received_at\":1}",
                  "v");
    expect_poison(VC_KIND_VOTE,
                  "{\"v\":1,\"kind\":\"vote\",\"id\":\"nope\",\"poll\":\"band-contest\","
                  "\"choice\":\"ruta-sur\",\"attrs\":{},\"received_at\":1}",
                  "id");
    expect_poison(VC_KIND_VOTE,
                  "{\"v\":1,\"kind\":\"vote\",\"id\":\"" ID "\",\"poll\":\"band-contest\","
                  "\"choice\":\"ruta-sur\",\"received_at\":1}",
                  "attrs");
    expect_poison(VC_KIND_VOTE,
                  "{\"v\":1,\"kind\":\"vote\",\"id\":\"" ID "\",\"poll\":\"band-contest\","
                  "\"choice\":\"ruta-sur\",\"attrs\":{},\"received_at\":\"1\"}",
                  "received_at");
    expect_poison(VC_KIND_VOTE,
                  "{\"v\":1,\"kind\":\"vote\",\"id\":\"" ID "\",\"poll\":\"gone\","
                  "\"choice\":\"ruta-sur\",\"attrs\":{},\"received_at\":1}",
                  "poll");
    expect_poison(VC_KIND_CHAT,
                  "{\"v\":1,\"kind\":\"chat\",\"id\":\"" ID "\",\"conversation\":\"bob:alice\","
                  "\"from\":\"alice\",\"to\":\"bob\",\"text\":\"x\",\"received_at\":1}",
                  "conversation");
    expect_poison(VC_KIND_CHAT,
                  "{\"v\":1,\"kind\":\"chat\",\"id\":\"" ID "\",\"conversation\":\"alice:bob\","
                  "\"from\":\"alice\",\"to\":\"bob\",\"text\":\"x\",\"received_at\":1,\"x\":1}",
                  "x");
    expect_poison(VC_KIND_CHAT, "not json", "");
}

static void test_helpers(void **state)
{
    (void)state;
    char c[VC_CONV_MAX + 1];
    vc_conversation_id("bob", "alice", c);
    assert_string_equal(c, "alice:bob");
    vc_conversation_id("a.b", "a-b", c); /* '-' (0x2d) < '.' (0x2e) */
    assert_string_equal(c, "a-b:a.b");
    assert_true(vc_json_depth_ok((const unsigned char *)"{\"a\":\"[[[[[[\"}", 14, 1));
    assert_true(vc_json_depth_ok((const unsigned char *)"{\"a\\\"[[[[\":1}", 14, 1));
    assert_false(vc_json_depth_ok((const unsigned char *)"[[", 2, 1));
    assert_true(vc_utf8_valid((const unsigned char *)"\xf4\x8f\xbf\xbf", 4));
    assert_false(vc_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4));
    assert_int_equal(vc_utf8_chars((const unsigned char *)"a\xc3\xa9\xe2\x82\xac", 6), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vote_ok),
        cmocka_unit_test(test_vote_errors),
        cmocka_unit_test(test_long_field_name_cut_at_utf8_boundary),
        cmocka_unit_test(test_message_escaping),
        cmocka_unit_test(test_chat_ok),
        cmocka_unit_test(test_chat_errors),
        cmocka_unit_test(test_message_check_roundtrip),
        cmocka_unit_test(test_message_check_poison),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests_name("validate", tests, setup, catalog_teardown);
}
