/*
 * test_units.c - cmocka unit tests of the api daemon's self-contained parts: the byte
 * buffer, the revocation set, configuration precedence, SSE framing and client limits,
 * password hashing, the metrics text, the results' entity tags and
 * the results view parameters (checks, top cut, one value's breakdown).  Run: make -C workers/api check (TAP output).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "etag.h"
#include "api_metrics.h"
#include "password.h"
#include "request_parse.h"
#include "results.h"
#include "results_view.h"
#include "revoked.h"
#include "router.h"
#include "validate.h"
#include "sse.h"
#include "strbuf.h"

static void strbuf_appends_and_consumes(void **state)
{
    (void)state;
    strbuf b = { 0 };
    assert_int_equal(sb_appends(&b, "hello "), 0);
    assert_int_equal(sb_appendf(&b, "%s %d", "world", 42), 0);
    assert_string_equal(b.data, "hello world 42");
    sb_consume(&b, 6);
    assert_string_equal(b.data, "world 42");
    assert_int_equal(b.len, 8);
    sb_consume(&b, 100);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    sb_free(&b);
}

static void revocations_hold_until_expiry(void **state)
{
    (void)state;
    revocations *set = revocations_new();
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(revocations_add(set, "JTI-LIVE", now + 600), 0);
    assert_int_equal(revocations_add(set, "JTI-LIVE", now + 600), 0); /* twice: one entry */
    assert_true(revocations_contains(set, "JTI-LIVE"));
    assert_false(revocations_contains(set, "JTI-OTHER"));
    assert_int_equal(revocations_count(set), 1);
    /* A token expired 10 s ago is still accepted within a verifier's leeway, so its
     * revocation must survive the sweep; one past exp + VC_JWT_LEEWAY_MAX must not.
     * Sweeps run every 1024 adds. */
    assert_int_equal(revocations_add(set, "JTI-IN-LEEWAY", now - 10), 0);
    char jti[32];
    for (int i = 0; i < 1100; i++) {
        snprintf(jti, sizeof jti, "OLD-%d", i);
        revocations_add(set, jti, now - VC_JWT_LEEWAY_MAX - 10);
    }
    assert_true(revocations_count(set) < 100);
    assert_true(revocations_contains(set, "JTI-LIVE"));
    assert_true(revocations_contains(set, "JTI-IN-LEEWAY"));
    revocations_free(set);
}

static enum config_outcome load(api_config *c, int argc, char **argv)
{
    return config_load(c, argc, argv);
}

static void config_flags_override_env_and_defaults(void **state)
{
    (void)state;
    api_config c;
    unsetenv("API_PORT");
    setenv("REDIS_PORT", "7000", 1);
    setenv("PG_PORT", "6543", 1);
    char *argv1[] = { "vote-api", NULL };
    assert_int_equal(load(&c, 1, argv1), CONFIG_RUN);
    assert_int_equal(c.port, 8090);
    assert_int_equal(c.redis_port, 7000);
    assert_non_null(strstr(c.pg_conninfo, "port=6543"));
    assert_string_equal(c.listen_addr, "127.0.0.1");

    setenv("API_PORT", "9000", 1);
    char *argv2[] = { "vote-api",          "--port", "9100", "--brokers", "k:1",
                      "--max-sse-clients", "7",      NULL };
    assert_int_equal(load(&c, 7, argv2), CONFIG_RUN);
    assert_int_equal(c.port, 9100);
    assert_string_equal(c.kafka_brokers, "k:1");
    assert_int_equal(c.max_sse_clients, 7);
    unsetenv("API_PORT");
    unsetenv("REDIS_PORT");
    unsetenv("PG_PORT");
}

static void config_rejects_bad_values(void **state)
{
    (void)state;
    api_config c;
    char *bad_port[] = { "vote-api", "--port", "70000", NULL };
    assert_int_equal(load(&c, 3, bad_port), CONFIG_ERROR);
    char *bad_threads[] = { "vote-api", "--threads", "0", NULL };
    assert_int_equal(load(&c, 3, bad_threads), CONFIG_ERROR);
    char *stray[] = { "vote-api", "extra", NULL };
    assert_int_equal(load(&c, 2, stray), CONFIG_ERROR);
    setenv("API_PORT", "eighty", 1);
    char *none[] = { "vote-api", NULL };
    assert_int_equal(load(&c, 1, none), CONFIG_ERROR);
    unsetenv("API_PORT");
    char *bad_level[] = { "vote-api", "--log-level", "loud", NULL };
    assert_int_equal(load(&c, 3, bad_level), CONFIG_ERROR);
    /* a value that does not fit its field is refused, not cut short */
    char long_topic[200];
    memset(long_topic, 't', sizeof long_topic - 1);
    long_topic[sizeof long_topic - 1] = '\0';
    char *too_long[] = { "vote-api", "--revocation-topic", long_topic, NULL };
    assert_int_equal(load(&c, 3, too_long), CONFIG_ERROR);
}

static void config_defaults_follow_the_stack_env(void **state)
{
    (void)state;
    api_config c;
    setenv("STATE_DIR", "/tmp/stack-state", 1);
    unsetenv("JWT_SECRETS_FILE");
    char *none[] = { "vote-api", NULL };
    assert_int_equal(load(&c, 1, none), CONFIG_RUN);
    assert_string_equal(c.secrets_file, "/tmp/stack-state/jwt-secrets");
    assert_int_equal(c.threads, 8);
    assert_int_equal(c.log_level, LOG_INFO);
    setenv("JWT_SECRETS_FILE", "/etc/vote/secrets", 1);
    char *flag[] = { "vote-api", "--log-level=debug", NULL };
    assert_int_equal(load(&c, 2, flag), CONFIG_RUN);
    assert_string_equal(c.secrets_file, "/etc/vote/secrets");
    assert_int_equal(c.log_level, LOG_DEBUG);
    unsetenv("JWT_SECRETS_FILE");
    unsetenv("STATE_DIR");
}

static void sse_frames_are_well_formed(void **state)
{
    (void)state;
    strbuf b = { 0 };
    assert_int_equal(sse_format(&b, "message", "01ABC", "{\"a\":1}", 7), 0);
    assert_string_equal(b.data, "id: 01ABC\nevent: message\ndata: {\"a\":1}\n\n");
    sb_consume(&b, b.len);
    assert_int_equal(sse_format(&b, "results", NULL, "{}", 2), 0);
    assert_string_equal(b.data, "event: results\ndata: {}\n\n");
    sb_free(&b);
}

static void sse_hub_limits_and_routes(void **state)
{
    (void)state;
    sse_hub *hub = sse_hub_new(2);
    sse_client *a = sse_client_open(hub, SSE_CHAT, "alice", 0);
    sse_client *p = sse_client_open(hub, SSE_POLL, "band-contest", 1);
    assert_non_null(a);
    assert_non_null(p);
    assert_null(sse_client_open(hub, SSE_CHAT, "bob", 0)); /* limit 2 */
    assert_int_equal(sse_count(hub, SSE_CHAT), 1);
    assert_true(sse_has_clients(hub, SSE_POLL, "band-contest"));
    assert_false(sse_has_clients(hub, SSE_CHAT, "bob"));
    assert_int_equal(sse_publish(hub, SSE_CHAT, "alice", "01X", "x", 1), 1);
    assert_int_equal(sse_publish(hub, SSE_CHAT, "bob", "01Y", "y", 1), 0);
    assert_int_equal(sse_publish(hub, SSE_POLL, "band-contest", NULL, "r", 1), 1); /* deferred */
    char *ids[] = { "01X" };
    assert_int_equal(sse_client_go_live(p, "b", 1, ids, 1), 0);
    sse_client_abandon(a);
    sse_client_abandon(p);
    assert_int_equal(sse_count(hub, SSE_CHAT) + sse_count(hub, SSE_POLL), 0);
    sse_hub_free(hub);
}

static void passwords_verify_only_the_right_one(void **state)
{
    (void)state;
    assert_int_equal(password_init(), 0);
    char hash[PASSWORD_HASH_LEN];
    assert_int_equal(password_hash("correct horse", 13, hash), 0);
    assert_memory_equal(hash, "$argon2id$", 10);
    assert_true(password_verify(hash, "correct horse", 13));
    assert_false(password_verify(hash, "correct horsE", 13));
    assert_false(password_verify(NULL, "correct horse", 13)); /* unknown user */
}

static void metrics_render_prometheus_text(void **state)
{
    (void)state;
    int route = metrics_register_route("unit_route");
    metrics_observe_request(route, 204, 0.002);
    metrics_inc(M_LOGOUT);
    metrics_gauges g = { .sse_chat_clients = 3 };
    strbuf out = { 0 };
    assert_int_equal(metrics_render(&out, &g), 0);
    assert_non_null(
        strstr(out.data, "vote_api_requests_total{route=\"unit_route\",code=\"2xx\"} 1\n"));
    assert_non_null(
        strstr(out.data, "vote_api_request_seconds_bucket{route=\"unit_route\",le=\"0.005\"} 1\n"));
    assert_non_null(strstr(out.data, "vote_api_logout_total 1\n"));
    assert_non_null(strstr(out.data, "vote_api_sse_clients{stream=\"chat\"} 3\n"));
    sb_free(&out);
}

static void etag_ignores_generated_at_only(void **state)
{
    (void)state;
    const char *a =
        "{\"poll\":\"p\",\"count\":3,\"generated_at\":1763786400000,\"totals\":{\"x\":3}}";
    const char *b =
        "{\"poll\":\"p\",\"count\":3,\"generated_at\":1763786409999,\"totals\":{\"x\":3}}";
    const char *c =
        "{\"poll\":\"p\",\"count\":4,\"generated_at\":1763786400000,\"totals\":{\"x\":4}}";
    char ta[ETAG_MAX], tb[ETAG_MAX], tc[ETAG_MAX];
    etag_of_results(a, strlen(a), ta);
    etag_of_results(b, strlen(b), tb);
    etag_of_results(c, strlen(c), tc);
    assert_string_equal(ta, tb);
    assert_string_not_equal(ta, tc);
    assert_int_equal(strlen(ta), 20); /* W/"16 hex" */
    assert_memory_equal(ta, "W/\"", 3);
}

static void etag_if_none_match_lists(void **state)
{
    (void)state;
    const char *tag = "W/\"00000000000000ab\"";
    assert_int_equal(etag_matches(NULL, tag), 0);
    assert_int_equal(etag_matches("", tag), 0);
    assert_int_equal(etag_matches(tag, tag), 1);
    assert_int_equal(etag_matches("\"00000000000000ab\"", tag), 1); /* weak comparison */
    assert_int_equal(etag_matches("\"x\", W/\"00000000000000ab\" ", tag), 1);
    assert_int_equal(etag_matches("*", tag), 1);
    assert_int_equal(etag_matches("W/\"00000000000000ac\"", tag), 0);
    assert_int_equal(etag_matches("W/\"00000000000000a\"", tag), 0);
    assert_int_equal(etag_matches(",,", tag), 0);
}

/* The request reading the fuzz target drives: exact codes for the cases a client meets. */
static void request_parse_answers_4xx(void **state)
{
    (void)state;
    api_problem p = { 0 };
    unsigned n;
    assert_int_equal(parse_uint_value(NULL, 7, 1, 9, &n), 0);
    assert_int_equal(n, 7);
    assert_int_equal(parse_uint_value("9", 7, 1, 9, &n), 0);
    assert_int_equal(n, 9);
    const char *bad[] = { "", "0", "10", "+1", "-1", " 1", "1 ", "0x1", "18446744073709551617" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse_uint_value(bad[i], 7, 1, 9, &n), -1);

    page_query q;
    assert_int_equal(parse_page(NULL, "01KAMXS8BV0000000000000001", NULL, &q, &p), 0);
    assert_int_equal(q.limit, PAGE_DEFAULT);
    assert_int_equal(parse_page("01kamxs8bv", NULL, NULL, &q, &p), -1);
    assert_int_equal(p.status, 422);
    assert_string_equal(p.field, "before");
    assert_int_equal(parse_page(NULL, NULL, "201", &q, &p), -1);
    assert_string_equal(p.error, "bad_limit");

    const char *last;
    assert_int_equal(parse_resume_cursor(NULL, "01KAMXS8BV0000000000000001", &last, &p), 0);
    assert_non_null(last);
    assert_int_equal(parse_resume_cursor("x", "01KAMXS8BV0000000000000001", &last, &p), -1);
    assert_string_equal(p.field, "Last-Event-ID");

    char peer[VC_USERNAME_MAX + 1];
    assert_int_equal(parse_peer("bob/messages", 3, peer, &p), 0);
    assert_string_equal(peer, "bob");
    assert_int_equal(parse_peer("Bob", 3, peer, &p), -1);

    assert_string_equal(parse_bearer("bearer   a.b.c"), "a.b.c");
    assert_null(parse_bearer("Bearer    "));
    assert_null(parse_bearer("Basic a"));

    assert_int_equal(parse_request_limits(0, 9, 1, "GET", 0, NULL, &p), -1);
    assert_int_equal(p.status, 400);
    assert_int_equal(parse_request_limits(0, 1, 1, "POST", 2, "text/plain", &p), -1);
    assert_int_equal(p.status, 415);
    assert_int_equal(parse_request_limits(0, 1, 1, "POST", 2, "application/json;x", &p), 0);
    assert_int_equal(parse_request_limits(0, 1, 1, "POST", 0, NULL, &p), 0); /* logout */
    assert_int_equal(parse_declared_too_large("4097"), 1);
    assert_int_equal(parse_declared_too_large("4096"), 0);
}

static void request_parse_credentials(void **state)
{
    (void)state;
    api_problem p = { 0 };
    credentials c;
    json_t *root;
    static const struct {
        const char *body;
        unsigned status;
        const char *error;
    } cases[] = {
        { "[]", 400, "bad_json" },
        { "{\"username\":\"alice\",\"username\":\"bob\",\"password\":\"x\"}", 400, "bad_json" },
        { "{\"username\":\"alice\"}", 422, "missing_field" },
        { "{\"username\":\"alice\",\"password\":1}", 422, "wrong_type" },
        { "{\"username\":\"alice\",\"password\":\"x\",\"admin\":true}", 422, "unknown_field" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse_credentials(cases[i].body, strlen(cases[i].body), &root, &c, &p),
                         -1);
        assert_int_equal(p.status, cases[i].status);
        assert_string_equal(p.error, cases[i].error);
        json_decref(root);
    }
    const char *ok = "{\"username\":\"alice\",\"password\":\"\u00e9\u00e9\u00e9\u00e9\u00e9"
                     "\u00e9\u00e9\u00e9\u00e9\"}";
    assert_int_equal(parse_credentials(ok, strlen(ok), &root, &c, &p), 0);
    assert_int_equal(check_new_account(&c, &p), -1); /* 9 characters in 18 bytes */
    assert_string_equal(p.error, "weak_password");
    json_decref(root);
}

static void router_finds_routes_and_segments(void **state)
{
    (void)state;
    const char *params[API_MAX_PATH_PARAMS] = { 0 };
    size_t lens[API_MAX_PATH_PARAMS] = { 0 };
    int path_route;
    int i = router_find("HEAD", "/api/chat/conversations/bob/messages", params, lens, &path_route);
    assert_string_equal(router_route_name(i), "chat_messages");
    assert_int_equal(lens[0], 3);
    assert_memory_equal(params[0], "bob", 3);
    assert_int_equal(router_find("POST", "/api/auth/me", params, lens, &path_route), -1);
    assert_string_equal(router_route_name(path_route), "auth_me"); /* 405 */
    assert_int_equal(router_find("GET", "/api/polls//results", params, lens, &path_route), -1);
    assert_int_equal(path_route, -1); /* 404 */
}

/* A two-choice poll with attributes department (in by_attr) and station (top only). */
static char *view_attrs[] = { "department", "station" };
static char *view_choices[] = { "A", "B" };
static const vc_poll view_poll = { "p", "P", view_choices, 2, view_attrs, 2 };

static void results_view_checks_each_parameter(void **state)
{
    (void)state;
    results_view v;
    api_problem e;
    static char *no_attrs[] = { NULL };
    const vc_poll bands = { "b", "B", view_choices, 2, no_attrs, 0 };
    char long_value[VC_ATTR_VALUE_MAX + 2];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';

    assert_int_equal(results_view_check(&view_poll, NULL, NULL, NULL, &v, &e), 0);
    assert_int_equal(v.top, RESULTS_TOP_N);
    assert_null(v.attr);
    assert_int_equal(results_view_check(&view_poll, "3", "station", "S-1", &v, &e), 0);
    assert_int_equal(v.top, 3);
    assert_string_equal(v.attr, "station");
    assert_string_equal(v.value, "S-1");
    const char *bad_tops[] = { "0", "11", "-1", "+3", " 3", "3x", "", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad_tops / sizeof *bad_tops; i++) {
        assert_int_equal(results_view_check(&view_poll, bad_tops[i], NULL, NULL, &v, &e), -1);
        assert_int_equal(e.status, 422);
        assert_string_equal(e.error, "bad_top");
        assert_string_equal(e.field, "top");
    }
    assert_int_equal(results_view_check(&view_poll, NULL, "municipality", "x", &v, &e), -1);
    assert_string_equal(e.error, "unknown_attr");
    assert_string_equal(e.field, "attr");
    assert_int_equal(results_view_check(&bands, NULL, "department", "x", &v, &e), -1);
    assert_string_equal(e.error, "unknown_attr");
    assert_int_equal(results_view_check(&view_poll, NULL, "department", NULL, &v, &e), -1);
    assert_string_equal(e.error, "missing_value");
    assert_string_equal(e.field, "value");
    assert_int_equal(results_view_check(&view_poll, NULL, NULL, "x", &v, &e), -1);
    assert_string_equal(e.error, "missing_attr");
    assert_int_equal(results_view_check(&view_poll, NULL, "department", "", &v, &e), -1);
    assert_string_equal(e.error, "bad_value");
    assert_int_equal(results_view_check(&view_poll, NULL, "department", long_value, &v, &e), -1);
    assert_string_equal(e.error, "bad_value");
    long_value[VC_ATTR_VALUE_MAX] = '\0';
    assert_int_equal(results_view_check(&view_poll, NULL, "department", long_value, &v, &e), 0);
}

static void results_view_cuts_top_and_breaks_down(void **state)
{
    (void)state;
    const char *doc =
        "{\"totals\":{\"A\":5,\"B\":4},\"by_attr\":{\"department\":{\"D1\":{\"A\":3,\"B\":1},"
        "\"D2\":{\"A\":2,\"B\":3}}},\"top\":{\"department\":[{\"value\":\"D2\",\"total\":5},"
        "{\"value\":\"D1\",\"total\":4}],\"station\":[{\"value\":\"S1\",\"total\":6},"
        "{\"value\":\"S2\",\"total\":3}]}}";
    results_view v = { 1, "department", "D1" };
    json_t *snap = json_loads(doc, 0, NULL);
    assert_int_equal(results_view_apply(snap, &view_poll, &v, NULL), 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(snap, "top"), "station")), 1);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(snap, "top"), "department"), 0),
            "value")),
        "D2");
    json_t *b = json_object_get(snap, "breakdown");
    assert_string_equal(json_string_value(json_object_get(b, "value")), "D1");
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "choices"), "B")), 1);
    json_decref(snap);

    /* A value by_attr lacks: every choice 0.  An attribute by_attr lacks: the counts read. */
    const long long counts[] = { 7, 0 };
    snap = json_loads(doc, 0, NULL);
    v = (results_view){ RESULTS_TOP_N, "department", "nowhere" };
    assert_int_equal(results_view_apply(snap, &view_poll, &v, NULL), 0);
    b = json_object_get(snap, "breakdown");
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 0);
    assert_int_equal(json_object_size(json_object_get(b, "choices")), 2);
    assert_int_equal(json_array_size(json_object_get(json_object_get(snap, "top"), "station")), 2);
    v = (results_view){ RESULTS_TOP_N, "station", "S9" };
    assert_int_equal(results_view_apply(snap, &view_poll, &v, NULL), -1); /* counts needed */
    assert_int_equal(results_view_apply(snap, &view_poll, &v, counts), 0);
    b = json_object_get(snap, "breakdown");
    assert_string_equal(json_string_value(json_object_get(b, "attr")), "station");
    assert_int_equal(json_integer_value(json_object_get(b, "total")), 7);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "choices"), "A")), 7);
    json_decref(snap);
    snap = json_loads("[1]", 0, NULL);
    assert_int_equal(results_view_apply(snap, &view_poll, &v, counts), -1);
    json_decref(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strbuf_appends_and_consumes),
        cmocka_unit_test(revocations_hold_until_expiry),
        cmocka_unit_test(config_flags_override_env_and_defaults),
        cmocka_unit_test(config_rejects_bad_values),
        cmocka_unit_test(config_defaults_follow_the_stack_env),
        cmocka_unit_test(sse_frames_are_well_formed),
        cmocka_unit_test(sse_hub_limits_and_routes),
        cmocka_unit_test(passwords_verify_only_the_right_one),
        cmocka_unit_test(metrics_render_prometheus_text),
        cmocka_unit_test(etag_ignores_generated_at_only),
        cmocka_unit_test(etag_if_none_match_lists),
        cmocka_unit_test(request_parse_answers_4xx),
        cmocka_unit_test(request_parse_credentials),
        cmocka_unit_test(router_finds_routes_and_segments),
        cmocka_unit_test(results_view_checks_each_parameter),
        cmocka_unit_test(results_view_cuts_top_and_breaks_down),
    };
    return cmocka_run_group_tests_name("vote-api units", tests, NULL, NULL);
}
