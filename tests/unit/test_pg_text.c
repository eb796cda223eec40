/* The values dispatchd hands PostgreSQL in its own formats: COPY's text
 * format (escapes, NULL, field and row ends) and binary text[] arrays
 * (header, NULLs, lengths). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "schema.h"
#include "strbuf.h"

static void test_copy_fields(void **state)
{
    (void)state;
    strbuf_t b;
    sb_init(&b);
    pg_copy_field(&b, "plain", 0);
    pg_copy_field(&b, "a\\b\tc\nd\re \"q\" caf\xc3\xa9", 0);
    pg_copy_field(&b, NULL, 0);
    pg_copy_field(&b, "", 0);
    pg_copy_field(&b, "\\N", 1);   /* the text \N, not NULL */
    assert_string_equal(b.data, "plain\ta\\\\b\\tc\\nd\\re \"q\" caf\xc3\xa9\t\\N\t\t\\\\N\n");
    sb_free(&b);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_binary_text_array(void **state)
{
    (void)state;
    strbuf_t b;
    sb_init(&b);
    const char *v[] = {"ab", NULL, ""};
    pg_binary_text_array(&b, v, 3);
    const unsigned char *p = (const unsigned char *)b.data;
    assert_int_equal(b.len, 20 + 4 + 2 + 4 + 4);
    assert_int_equal(be32(p), 1);        /* one dimension */
    assert_int_equal(be32(p + 4), 1);    /* has NULLs */
    assert_int_equal(be32(p + 8), 25);   /* text */
    assert_int_equal(be32(p + 12), 3);
    assert_int_equal(be32(p + 16), 1);   /* lower bound */
    assert_int_equal(be32(p + 20), 2);
    assert_memory_equal(p + 24, "ab", 2);
    assert_int_equal(be32(p + 26), 0xFFFFFFFFu);
    assert_int_equal(be32(p + 30), 0);
    sb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_fields),
        cmocka_unit_test(test_binary_text_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
