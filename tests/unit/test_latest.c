/* The newest-document cell: nothing before the first publish; each
 * publish a new version readers see whole; a reader's copy outlives newer
 * publishes; and under a writer publishing while readers take and let go
 * (run under TSan too), every copy read is whole and versions never go
 * back. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "latest.h"

static void test_versions_and_copies(void **state)
{
    (void)state;
    latest_t *l = latest_new();
    assert_null(latest_get(l));
    assert_int_equal(latest_version(l), 0);
    latest_publish(l, 200, "{\"a\":1}");
    latest_doc_t *first = latest_get(l);
    assert_non_null(first);
    assert_int_equal(first->version, 1);
    assert_int_equal(first->status, 200);
    assert_string_equal(first->text, "{\"a\":1}");
    assert_int_equal(first->len, 7);
    latest_publish(l, 503, "{\"b\":2}");
    assert_int_equal(latest_version(l), 2);
    /* the copy taken before is untouched by the newer one */
    assert_string_equal(first->text, "{\"a\":1}");
    latest_doc_t *second = latest_get(l);
    assert_int_equal(second->status, 503);
    assert_string_equal(second->text, "{\"b\":2}");
    latest_release(first);
    latest_release(second);
    latest_free(l);
}

#define WRITES 20000
#define READERS 3

static void *writer(void *arg)
{
    latest_t *l = arg;
    char buf[64];
    for (int i = 1; i <= WRITES; i++) {
        snprintf(buf, sizeof(buf), "%d:%d", i, i * 7);
        latest_publish(l, 200, buf);
    }
    return NULL;
}

static void *reader(void *arg)
{
    latest_t *l = arg;
    uint64_t seen = 0;
    intptr_t bad = 0;
    while (seen < WRITES) {
        latest_doc_t *d = latest_get(l);
        if (d == NULL)
            continue;
        int a = 0, b = 0;
        if (sscanf(d->text, "%d:%d", &a, &b) != 2 || b != a * 7 || (uint64_t)a != d->version || d->version < seen)
            bad++;
        seen = d->version;
        latest_release(d);
    }
    return (void *)bad;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    latest_t *l = latest_new();
    pthread_t w, r[READERS];
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, l);
    pthread_create(&w, NULL, writer, l);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++) {
        void *bad;
        pthread_join(r[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    latest_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions_and_copies),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
