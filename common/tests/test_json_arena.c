/* test_json_arena.c - cmocka tests for common/json_arena.c: jansson values made
 * inside an arena come from its block and are released with it, values made
 * outside (before, after, or once the block is full) are ordinary heap memory
 * that may be freed from either side, and a parse that outgrows the block
 * still yields the same validated message as a small one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "json_arena.h"
#include "validate.h"

#define ID "01KAMXS8BV0000000000000001"
#define TS 1763786400123LL

/* allocations inside an arena are taken from the block; end() gives it back */
static void test_inside_uses_block(void **state)
{
    (void)state;
    vc_json_arena_begin();
    assert_int_equal(vc_json_arena_used(), 0);
    json_t *v = json_loads("{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}", 0, NULL);
    assert_non_null(v);
    assert_true(vc_json_arena_used() > 0);
    assert_string_equal(json_string_value(json_object_get(v, "choice")), "ruta-sur");
    json_decref(v);
    vc_json_arena_end();
    assert_int_equal(vc_json_arena_used(), 0);
}

/* values made outside any arena survive arenas and are freed normally from
 * inside one (valgrind/ASan would report the leak or the bad free) */
static void test_outside_values_mix(void **state)
{
    (void)state;
    json_t *before = json_pack("{s:s}", "k", "made before any arena");
    assert_non_null(before);
    vc_json_arena_begin();
    json_t *inside = json_string("made inside");
    assert_non_null(inside);
    json_decref(before); /* heap value freed while the arena is active */
    json_decref(inside);
    vc_json_arena_end();
    json_t *after = json_string("made after the arena");
    assert_non_null(after);
    assert_int_equal(vc_json_arena_used(), 0); /* not taken from the block */
    assert_string_equal(json_string_value(after), "made after the arena");
    json_decref(after);
}

/* a chat text bigger than the block: the lexer's buffer moves to the heap
 * mid-parse, and the message is still exact */
static void test_outgrows_block(void **state)
{
    (void)state;
    enum { TEXT = 100 * 1024 };
    vc_limits lim;
    vc_limits_default(&lim);
    lim.max_text_chars = TEXT;
    char *body = malloc(TEXT + 64), *text = malloc(TEXT + 1);
    assert_non_null(body);
    assert_non_null(text);
    memset(text, 'q', TEXT);
    text[TEXT] = '\0';
    snprintf(body, TEXT + 64, "{\"to\":\"bob\",\"text\":\"%s\"}", text);

    for (int round = 0; round < 3; round++) { /* the block is reused each time */
        vc_msg m;
        vc_error e;
        assert_int_equal(vc_validate_chat(&lim, (const unsigned char *)body, strlen(body), "alice",
                                          ID, TS, &m, &e),
                         0);
        assert_non_null(strstr(m.json, text));
        assert_non_null(strstr(m.json, "\"to\":\"bob\""));
        vc_msg_free(&m);
        assert_int_equal(vc_json_arena_used(), 0);
    }
    free(text);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inside_uses_block),
        cmocka_unit_test(test_outside_values_mix),
        cmocka_unit_test(test_outgrows_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
