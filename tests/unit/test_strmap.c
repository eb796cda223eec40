/* strmap: insert, replace, remove with tombstones, growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "strmap.h"

static void test_put_get_remove(void **state)
{
    (void)state;
    strmap_t m;
    strmap_init(&m);
    char key[32];
    for (intptr_t i = 1; i <= 5000; i++) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        strmap_put(&m, key, (void *)i);
    }
    assert_int_equal(strmap_count(&m), 5000);
    for (intptr_t i = 1; i <= 5000; i += 2) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        assert_ptr_equal(strmap_remove(&m, key), (void *)i);
    }
    assert_int_equal(strmap_count(&m), 2500);
    for (intptr_t i = 1; i <= 5000; i++) {
        snprintf(key, sizeof(key), "k%ld", (long)i);
        assert_ptr_equal(strmap_get(&m, key), i % 2 ? NULL : (void *)i);
    }
    strmap_put(&m, "k2", (void *)7);
    assert_ptr_equal(strmap_get(&m, "k2"), (void *)7);
    assert_null(strmap_remove(&m, "absent"));
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_put_get_remove)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
