/* The retry path's headers and its decision after each failure: written
 * and read back whole; every header missing or malformed refused by name;
 * attempts counted against the policy, the age limit, the backoff's
 * not_before, a history kept to its last entries with long errors cut on
 * a character boundary, and a follower's flag dropped once it fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "retry_meta.h"

typedef struct headers {
    int n;
    char name[16][32];
    char *value[16];
} headers_t;

static void put(void *ctx, const char *name, const char *value)
{
    headers_t *h = ctx;
    snprintf(h->name[h->n], sizeof(h->name[0]), "%s", name);
    h->value[h->n++] = strdup(value);
}

static const char *get(void *ctx, const char *name, size_t *len)
{
    headers_t *h = ctx;
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->name[i], name) == 0 && h->value[i] != NULL) {
            *len = strlen(h->value[i]);
            return h->value[i];
        }
    return NULL;
}

static void headers_free(headers_t *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->value[i]);
    h->n = 0;
}

static const backoff_policy_t POLICY = {.initial_ms = 1000, .cap_ms = 8000, .multiplier = 2, .max_attempts = 4};

static void test_round_trip(void **state)
{
    (void)state;
    retry_meta_t m, r;
    retry_meta_init(&m, "issues.raw", 2, 4711);
    uint64_t rng = 1;
    assert_int_equal(retry_meta_failed(&m, 1700000000000LL, "LLM unavailable after 4 attempts: 500", &POLICY, 0, &rng),
                     RETRY_AGAIN);
    assert_int_equal(m.attempts, 1);
    assert_int_equal(m.not_before_ms, 1700000000000LL + 1000);
    headers_t h = {0};
    retry_meta_write(&m, put, &h);
    char err[128];
    assert_int_equal(retry_meta_read(&r, get, &h, err, sizeof(err)), 0);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.not_before_ms, m.not_before_ms);
    assert_int_equal(r.first_failed_ms, 1700000000000LL);
    assert_string_equal(r.original_topic, "issues.raw");
    assert_int_equal(r.original_partition, 2);
    assert_int_equal(r.original_offset, 4711);
    assert_false(r.follows);
    assert_int_equal(json_array_size(r.history), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.history, 0), "error")),
                        "LLM unavailable after 4 attempts: 500");
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.history, 0), "at")),
                        "2023-11-14T22:13:20.000Z");
    retry_meta_free(&r);
    retry_meta_free(&m);
    headers_free(&h);
}

static void test_bad_headers(void **state)
{
    (void)state;
    retry_meta_t m, r;
    retry_meta_init(&m, "issues.raw", 0, 1);
    m.follows = true;
    headers_t h = {0};
    retry_meta_write(&m, put, &h);
    char err[128];
    assert_int_equal(retry_meta_read(&r, get, &h, err, sizeof(err)), 0);
    assert_true(r.follows);   /* a follower: no failure of its own yet */
    assert_int_equal(r.attempts, 0);
    retry_meta_free(&r);
    const char *names[] = {"attempts", "not_before", "first_failed_at", "original_topic", "original_partition",
                           "original_offset", "history"};
    const char *bad[] = {"-1", "soon", "yesterday", NULL, "x", "-5", "{\"not\":\"an array\"}"};
    for (int k = 0; k < 7; k++) {
        for (int i = 0; i < h.n; i++)
            if (strcmp(h.name[i], names[k]) == 0) {
                char *keep = h.value[i];
                h.value[i] = bad[k] ? strdup(bad[k]) : NULL;
                assert_int_equal(retry_meta_read(&r, get, &h, err, sizeof(err)), -1);
                assert_non_null(strstr(err, names[k]));
                free(h.value[i]);
                h.value[i] = keep;
            }
    }
    retry_meta_free(&m);
    headers_free(&h);
}

static void test_gives_up(void **state)
{
    (void)state;
    retry_meta_t m;
    retry_meta_init(&m, "issues.raw", 0, 1);
    uint64_t rng = 1;
    long long t = 1000000;
    /* 4 attempts in all: the first three are followed by a retry, 1 s, 2 s, 4 s later */
    long long expect[] = {1000, 2000, 4000};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(retry_meta_failed(&m, t, "500", &POLICY, 0, &rng), RETRY_AGAIN);
        assert_int_equal(m.not_before_ms - t, expect[i]);
        t = m.not_before_ms;
    }
    assert_int_equal(retry_meta_failed(&m, t, "500", &POLICY, 0, &rng), RETRY_GIVE_UP);
    assert_int_equal(m.attempts, 4);
    assert_int_equal(json_array_size(m.history), 4);
    assert_int_equal(m.first_failed_ms, 1000000);
    retry_meta_free(&m);
    /* the age limit ends it sooner */
    retry_meta_init(&m, "issues.raw", 0, 1);
    assert_int_equal(retry_meta_failed(&m, 0 + 5000, "500", &POLICY, 3000, &rng), RETRY_AGAIN);
    assert_int_equal(retry_meta_failed(&m, 5000 + 2999, "500", &POLICY, 3000, &rng), RETRY_AGAIN);
    assert_int_equal(retry_meta_failed(&m, 5000 + 3000, "500", &POLICY, 3000, &rng), RETRY_GIVE_UP);
    retry_meta_free(&m);
}

static void test_history_bounded(void **state)
{
    (void)state;
    retry_meta_t m;
    retry_meta_init(&m, "issues.raw", 0, 1);
    m.follows = true;
    const backoff_policy_t forever = {.initial_ms = 10, .cap_ms = 10, .multiplier = 1, .max_attempts = 0};
    uint64_t rng = 1;
    char long_error[600];
    /* 199 ASCII bytes, then two-byte characters: the cut must not split one */
    memset(long_error, 'e', 199);
    for (int i = 199; i < 598; i += 2) {
        long_error[i] = (char)0xC3;
        long_error[i + 1] = (char)0xA9;
    }
    long_error[599] = '\0';
    for (int i = 0; i < 20; i++) {
        char e[32];
        snprintf(e, sizeof(e), "failure %d", i);
        assert_int_equal(retry_meta_failed(&m, 1000 + i, i == 19 ? long_error : e, &forever, 0, &rng), RETRY_AGAIN);
    }
    assert_false(m.follows);
    assert_int_equal(m.attempts, 20);
    assert_int_equal(json_array_size(m.history), RETRY_HISTORY_MAX);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m.history, 0), "error")), "failure 12");
    const char *last = json_string_value(json_object_get(json_array_get(m.history, RETRY_HISTORY_MAX - 1), "error"));
    assert_int_equal(strlen(last), 199);   /* 199 + a whole 2-byte character would pass 200 */
    retry_meta_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_gives_up),
        cmocka_unit_test(test_history_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
