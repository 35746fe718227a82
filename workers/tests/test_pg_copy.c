/*
 * test_pg_copy.c - the binary COPY encoder of the chat sink's fast path (lib/pg_copy.c):
 * the exact bytes PostgreSQL's binary format requires (signature, big-endian lengths,
 * timestamptz as microseconds since 2000-01-01, trailer), and that text goes unescaped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "pg_copy.h"

static void test_header_and_trailer(void **state)
{
    (void)state;
    strbuf b = { 0 };
    assert_int_equal(pgcopy_start(&b), 0);
    assert_int_equal(pgcopy_finish(&b), 0);
    static const char want[] = "PGCOPY\n\377\r\n\0"
                               "\0\0\0\0"
                               "\0\0\0\0"
                               "\377\377";
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, sizeof want - 1);
    /* start resets: a reused buffer holds one COPY stream only */
    assert_int_equal(pgcopy_start(&b), 0);
    assert_int_equal(b.len, 19);
    sb_free(&b);
}

static void test_row_fields(void **state)
{
    (void)state;
    strbuf b = { 0 };
    assert_int_equal(pgcopy_start(&b), 0);
    size_t at = b.len;
    const char text[] = "a\t\"b\"\\\n{c}"; /* tabs, quotes, backslashes: bytes as they are */
    assert_int_equal(pgcopy_row(&b, 2), 0);
    assert_int_equal(pgcopy_text(&b, text, strlen(text)), 0);
    /* 2000-01-01T00:00:00.001Z: 1 ms after PostgreSQL's epoch = 1000 us */
    assert_int_equal(pgcopy_timestamptz_ms(&b, 946684800001), 0);
    static const char head[] = "\0\2"
                               "\0\0\0\12"; /* 2 fields; 10 bytes of text */
    assert_memory_equal(b.data + at, head, 6);
    assert_memory_equal(b.data + at + 6, text, strlen(text));
    static const char ts[] = "\0\0\0\10"
                             "\0\0\0\0\0\0\3\350";
    assert_memory_equal(b.data + at + 6 + strlen(text), ts, 12);
    assert_int_equal(b.len, at + 6 + strlen(text) + 12);
    sb_free(&b);
}

static void test_timestamp_before_2000_is_negative(void **state)
{
    (void)state;
    strbuf b = { 0 };
    assert_int_equal(pgcopy_timestamptz_ms(&b, 946684799999), 0); /* -1 ms = -1000 us */
    static const char want[] = "\0\0\0\10"
                               "\377\377\377\377\377\377\374\030";
    assert_memory_equal(b.data, want, 12);
    sb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_trailer),
        cmocka_unit_test(test_row_fields),
        cmocka_unit_test(test_timestamp_before_2000_is_negative),
    };
    return cmocka_run_group_tests_name("workers-pg-copy", tests, NULL, NULL);
}
