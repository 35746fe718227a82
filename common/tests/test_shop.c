/* test_shop.c - cmocka tests for common/shop.c: the exact order message the
 * edge produces and its key (the book), every order and book rejection with
 * its status and field, and the sinks' poison check of order messages
 * accepting what the edge produces and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "shop.h"

#define ID "01KAMXS8BV0000000000000001"
#define TS 1763786400123LL

static vc_limits lim;

static int order(const char *body, const char *buyer, vc_msg *m, vc_error *e)
{
    return vc_validate_order(&lim, (const unsigned char *)body, strlen(body), buyer, ID, TS, m, e);
}

static void expect_order_err(const char *body, int status, vc_reason r, const char *field)
{
    vc_msg m;
    vc_error e;
    if (order(body, "alice", &m, &e) == 0) {
        fail_msg("accepted: %s", body);
    }
    if (e.status != status || e.reason != r || strcmp(e.field, field) != 0) {
        fail_msg("%s -> %d %s field=%s (%s); want %d %s field=%s", body, e.status,
                 vc_reason_str(e.reason), e.field, e.detail, status, vc_reason_str(r), field);
    }
    assert_null(m.json);
}

static void test_order_ok(void **state)
{
    vc_msg m;
    vc_error e;
    (void)state;
    vc_limits_default(&lim);
    assert_int_equal(order("{\"book\": 42, \"copies\": 3}", "alice", &m, &e), 0);
    assert_string_equal(m.json, "{\"v\":1,\"kind\":\"order\",\"id\":\"" ID "\",\"book\":42,"
                                "\"copies\":3,\"buyer\":\"alice\",\"received_at\":1763786400123}");
    assert_string_equal(m.key, "42");
    assert_int_equal(m.key_len, 2);
    assert_int_equal(m.kind, VC_KIND_ORDER);
    vc_msg_free(&m);
    /* the largest id every JSON reader holds exactly */
    assert_int_equal(order("{\"copies\":10,\"book\":9007199254740991}", "bob", &m, &e), 0);
    assert_string_equal(m.key, "9007199254740991");
    vc_msg_free(&m);
}

static void test_order_errors(void **state)
{
    vc_msg m;
    vc_error e;
    (void)state;
    vc_limits_default(&lim);
    expect_order_err("", 400, VC_R_BAD_JSON, "");
    expect_order_err("{\"book\":1,", 400, VC_R_BAD_JSON, "");
    expect_order_err("{\"book\":1,\"book\":2,\"copies\":1}", 400, VC_R_BAD_JSON, "");
    expect_order_err("[1]", 422, VC_R_WRONG_TYPE, "");
    expect_order_err("{\"book\":1,\"copies\":1,\"buyer\":\"mallory\"}", 422, VC_R_UNKNOWN_FIELD,
                     "buyer");
    expect_order_err("{\"copies\":1}", 422, VC_R_MISSING_FIELD, "book");
    expect_order_err("{\"book\":1}", 422, VC_R_MISSING_FIELD, "copies");
    expect_order_err("{\"book\":\"1\",\"copies\":1}", 422, VC_R_WRONG_TYPE, "book");
    expect_order_err("{\"book\":1.0,\"copies\":1}", 422, VC_R_WRONG_TYPE, "book");
    expect_order_err("{\"book\":true,\"copies\":1}", 422, VC_R_WRONG_TYPE, "book");
    expect_order_err("{\"book\":null,\"copies\":1}", 422, VC_R_WRONG_TYPE, "book");
    expect_order_err("{\"book\":0,\"copies\":1}", 422, VC_R_BAD_VALUE, "book");
    expect_order_err("{\"book\":-5,\"copies\":1}", 422, VC_R_BAD_VALUE, "book");
    expect_order_err("{\"book\":9007199254740992,\"copies\":1}", 422, VC_R_BAD_VALUE, "book");
    expect_order_err("{\"book\":1,\"copies\":0}", 422, VC_R_BAD_VALUE, "copies");
    expect_order_err("{\"book\":1,\"copies\":-1}", 422, VC_R_BAD_VALUE, "copies");
    expect_order_err("{\"book\":1,\"copies\":11}", 422, VC_R_BAD_VALUE, "copies");
    expect_order_err("{\"book\":1,\"copies\":[1]}", 422, VC_R_WRONG_TYPE, "copies");
    /* beyond int64: jansson refuses the number while parsing */
    expect_order_err("{\"book\":99999999999999999999999,\"copies\":1}", 400, VC_R_BAD_JSON, "");
    expect_order_err("{\"book\":1,\"copies\":1,\"\xff\":1}", 400, VC_R_BAD_UTF8, "");
    /* a buyer that is no username never gets this far in the module */
    assert_int_equal(order("{\"book\":1,\"copies\":1}", "Bad Buyer", &m, &e), -1);
    assert_int_equal(e.reason, VC_R_BAD_VALUE);
}

static int check(const char *msg, vc_error *e)
{
    return vc_message_check(NULL, &lim, VC_KIND_ORDER, (const unsigned char *)msg, strlen(msg),
                            NULL, e);
}

static void test_order_message_check(void **state)
{
    vc_msg m;
    vc_error e;
    (void)state;
    vc_limits_default(&lim);
    assert_int_equal(order("{\"book\":7,\"copies\":2}", "carol", &m, &e), 0);
    assert_int_equal(check(m.json, &e), 0);
    vc_msg_free(&m);
    static const char *const poison[] = {
        "{\"v\":1,\"kind\":\"chat\",\"id\":\"" ID
        "\",\"book\":7,\"copies\":2,\"buyer\":\"carol\",\"received_at\":1}",
        "{\"v\":2,\"kind\":\"order\",\"id\":\"" ID
        "\",\"book\":7,\"copies\":2,\"buyer\":\"carol\",\"received_at\":1}",
        "{\"v\":1,\"kind\":\"order\",\"id\":\"x\",\"book\":7,\"copies\":2,\"buyer\":\"carol\","
        "\"received_at\":1}",
        "{\"v\":1,\"kind\":\"order\",\"id\":\"" ID
        "\",\"book\":0,\"copies\":2,\"buyer\":\"carol\",\"received_at\":1}",
        "{\"v\":1,\"kind\":\"order\",\"id\":\"" ID
        "\",\"book\":7,\"copies\":20,\"buyer\":\"carol\",\"received_at\":1}",
        "{\"v\":1,\"kind\":\"order\",\"id\":\"" ID
        "\",\"book\":7,\"copies\":2,\"buyer\":\"C\",\"received_at\":1}",
        "{\"v\":1,\"kind\":\"order\",\"id\":\"" ID "\",\"book\":7,\"copies\":2,\"received_at\":1}",
        "{\"v\":1,\"kind\":\"order\",\"id\":\"" ID
        "\",\"book\":7,\"copies\":2,\"buyer\":\"carol\",\"received_at\":1,\"x\":1}",
        NULL
    };
    for (const char *const *p = poison; *p; p++) {
        if (check(*p, &e) == 0) {
            fail_msg("poison accepted: %s", *p);
        }
    }
}

static void expect_book_err(const char *body, int patch, int status, vc_reason r, const char *field)
{
    json_t *root;
    vc_book b;
    vc_error e;
    if (vc_validate_book(&lim, (const unsigned char *)body, strlen(body), patch, &root, &b, &e) ==
        0) {
        fail_msg("accepted: %s", body);
    }
    json_decref(root);
    if (e.status != status || e.reason != r || strcmp(e.field, field) != 0) {
        fail_msg("%s -> %d %s field=%s (%s); want %d %s field=%s", body, e.status,
                 vc_reason_str(e.reason), e.field, e.detail, status, vc_reason_str(r), field);
    }
}

#define BOOK_OK                                                                                    \
    "\"title\":\"Cien "                                                                            \
    "a\xc3\xb1os\",\"author\":\"GGM\",\"condition\":\"good\",\"price_cents\":1500"

static void test_book(void **state)
{
    json_t *root;
    vc_book b;
    vc_error e;
    const char *ok = "{" BOOK_OK ",\"copies\":3}";
    (void)state;
    vc_limits_default(&lim);
    assert_int_equal(
        vc_validate_book(&lim, (const unsigned char *)ok, strlen(ok), 0, &root, &b, &e), 0);
    assert_string_equal(b.title, "Cien a\xc3\xb1os");
    assert_string_equal(b.condition, "good");
    assert_int_equal(b.price_cents, 1500);
    assert_int_equal(b.copies, 3);
    json_decref(root);
    const char *patch = "{\"price_cents\":999}";
    assert_int_equal(
        vc_validate_book(&lim, (const unsigned char *)patch, strlen(patch), 1, &root, &b, &e), 0);
    assert_null(b.title);
    assert_int_equal(b.copies, -1);
    assert_int_equal(b.price_cents, 999);
    json_decref(root);

    expect_book_err("{" BOOK_OK "}", 0, 422, VC_R_MISSING_FIELD, "copies");
    expect_book_err("{" BOOK_OK ",\"copies\":3,\"seller\":\"eve\"}", 0, 422, VC_R_UNKNOWN_FIELD,
                    "seller");
    expect_book_err("{" BOOK_OK ",\"copies\":0}", 0, 422, VC_R_BAD_VALUE, "copies");
    expect_book_err("{" BOOK_OK ",\"copies\":10001}", 0, 422, VC_R_BAD_VALUE, "copies");
    expect_book_err("{" BOOK_OK ",\"copies\":\"3\"}", 0, 422, VC_R_WRONG_TYPE, "copies");
    expect_book_err("{" BOOK_OK ",\"copies\":1,\"copies\":2}", 0, 400, VC_R_BAD_JSON, "");
    expect_book_err("{\"title\":\"\",\"author\":\"a\",\"condition\":\"new\",\"price_cents\":1,"
                    "\"copies\":1}",
                    0, 422, VC_R_BAD_LENGTH, "title");
    expect_book_err("{\"title\":\"a\\u0001b\",\"author\":\"a\",\"condition\":\"new\","
                    "\"price_cents\":1,\"copies\":1}",
                    0, 422, VC_R_BAD_VALUE, "title");
    expect_book_err("{\"title\":\"a\\u0000b\",\"author\":\"a\",\"condition\":\"new\","
                    "\"price_cents\":1,\"copies\":1}",
                    0, 400, VC_R_BAD_JSON, "");
    expect_book_err("{\"title\":\"t\",\"author\":\"a\",\"condition\":\"mint\",\"price_cents\":1,"
                    "\"copies\":1}",
                    0, 422, VC_R_BAD_VALUE, "condition");
    expect_book_err("{\"title\":\"t\",\"author\":\"a\",\"condition\":\"new\",\"price_cents\":-1,"
                    "\"copies\":1}",
                    0, 422, VC_R_BAD_VALUE, "price_cents");
    expect_book_err("{\"title\":\"t\",\"author\":\"a\",\"condition\":\"new\","
                    "\"price_cents\":100000001,\"copies\":1}",
                    0, 422, VC_R_BAD_VALUE, "price_cents");
    expect_book_err("{}", 1, 422, VC_R_MISSING_FIELD, "");
    expect_book_err("{\"title\":7}", 1, 422, VC_R_WRONG_TYPE, "title");
    expect_book_err("{\"id\":7}", 1, 422, VC_R_UNKNOWN_FIELD, "id");
    expect_book_err("[\"title\"]", 1, 422, VC_R_WRONG_TYPE, "");

    char big[300];
    memset(big, 'x', sizeof big);
    snprintf(big, sizeof big, "{\"title\":\"%0201d\"}", 0);
    expect_book_err(big, 1, 422, VC_R_BAD_LENGTH, "title");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_ok),
        cmocka_unit_test(test_order_errors),
        cmocka_unit_test(test_order_message_check),
        cmocka_unit_test(test_book),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
