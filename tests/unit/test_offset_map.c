/* The offset map: runs merge, round-trip through the metadata text, the
 * size bound is enforced, and foreign or malformed metadata is harmless. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "offset_map.h"

static void test_encode_example(void **state)
{
    (void)state;
    offset_map_t m;
    offset_map_init(&m);
    int64_t done[] = {102, 103, 104, 110};
    for (int i = 0; i < 4; i++)
        offset_map_add(&m, done[i]);
    char out[64];
    assert_int_equal(offset_map_encode(&m, 100, out, sizeof(out)), 11);
    assert_string_equal(out, "dd1:2+3,5+1");
    offset_map_free(&m);
}

static void test_round_trip_and_contains(void **state)
{
    (void)state;
    offset_map_t m, back;
    offset_map_init(&m);
    offset_map_init(&back);
    for (int64_t o = 1000; o < 3000; o++)
        if (o % 7 != 0 && o % 11 != 0)
            offset_map_add(&m, o);
    char out[OFFSET_MAP_MAX_BYTES];
    assert_true(offset_map_encode(&m, 990, out, sizeof(out)) > 0);
    assert_int_equal(offset_map_decode(&back, 990, out), 0);
    assert_int_equal(back.n, m.n);
    for (int64_t o = 990; o < 3010; o++)
        assert_int_equal(offset_map_contains(&back, o), o >= 1000 && o < 3000 && o % 7 != 0 && o % 11 != 0);
    offset_map_free(&m);
    offset_map_free(&back);
}

static void test_bound(void **state)
{
    (void)state;
    offset_map_t m;
    offset_map_init(&m);
    for (int64_t o = 0; o < 20000; o += 2)   /* 10,000 single-offset runs */
        offset_map_add(&m, o);
    char out[OFFSET_MAP_MAX_BYTES];
    assert_int_equal(offset_map_encode(&m, 0, out, sizeof(out)), -1);
    offset_map_free(&m);
}

static void test_foreign_and_malformed(void **state)
{
    (void)state;
    offset_map_t m;
    offset_map_init(&m);
    assert_int_equal(offset_map_decode(&m, 5, NULL), 0);
    assert_int_equal(offset_map_decode(&m, 5, "written by another tool"), 0);
    assert_int_equal(m.n, 0);
    assert_int_equal(offset_map_decode(&m, 5, "dd1:2+x"), -1);
    assert_int_equal(m.n, 0);
    assert_int_equal(offset_map_decode(&m, 5, "dd1:-1+2"), -1);
    /* Gaps and lengths that would overflow 64-bit offsets (undefined
     * behaviour once added) are refused, not wrapped. */
    assert_int_equal(offset_map_decode(&m, 5, "dd1:9223372036854775807+1"), -1);
    assert_int_equal(offset_map_decode(&m, 5, "dd1:1+9223372036854775807"), -1);
    assert_int_equal(offset_map_decode(&m, 5, "dd1:1+4611686018427387000,1+4611686018427387000"), -1);
    assert_int_equal(offset_map_decode(&m, 5, "dd1:"), 0);
    assert_int_equal(m.n, 0);
    offset_map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_example),
        cmocka_unit_test(test_round_trip_and_contains),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_foreign_and_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
