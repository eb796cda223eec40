/* Configuration: defaults, file, environment precedence, and errors that
 * name the bad key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static const char *write_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/dispatchd-test-%d.conf", getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults(void **state)
{
    (void)state;
    unsetenv("KAFKA_BOOTSTRAP_SERVERS");
    unsetenv("CLASSIFY_RATE_LIMIT");
    config_t c;
    char err[256];
    assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
    assert_string_equal(c.kafka_bootstrap, "embedded");
    assert_string_equal(c.group_id, "dispatchai-classifier");
    assert_string_equal(c.topic_raw, "issues.raw");
    assert_int_equal(c.classify_rate_limit, 600);
    assert_int_equal(c.daily_limit, 1000);
    assert_string_equal(c.http_addr, "127.0.0.1:8080");
    config_free(&c);
}

static void test_file_then_env(void **state)
{
    (void)state;
    const char *f = write_file("[kafka]\nbootstrap.servers = file:9092\nlinger.ms = 20\n"
                               "[classifier]\nrate_limit = 60\n");
    setenv("CLASSIFY_RATE_LIMIT", "120", 1);
    config_t c;
    char err[256];
    assert_int_equal(config_load(&c, f, err, sizeof(err)), 0);
    assert_string_equal(c.kafka_bootstrap, "file:9092");
    assert_int_equal(c.classify_rate_limit, 120);
    assert_string_equal(config_kafka_prop(&c, "linger.ms"), "20");
    config_free(&c);
    unsetenv("CLASSIFY_RATE_LIMIT");
    unlink(f);
}

static void test_errors_name_the_key(void **state)
{
    (void)state;
    config_t c;
    char err[256];
    const char *f = write_file("[http]\nadress = x\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown key 'adress' in section [http]"));
    config_free(&c);
    f = write_file("[pipeline]\nordering = random\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "pipeline.ordering must be one of"));
    config_free(&c);
    unlink(f);
    setenv("DAILY_CLASSIFICATION_LIMIT", "-5", 1);
    assert_int_equal(config_load(&c, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "DAILY_CLASSIFICATION_LIMIT"));
    config_free(&c);
    unsetenv("DAILY_CLASSIFICATION_LIMIT");
    assert_int_equal(config_load(&c, "/nonexistent/x.conf", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot open"));
    config_free(&c);
}

/* [user_limits]: any user id as a key; unnamed users get
 * user_daily_limit (-1: none); a bad value names the user. */
static void test_user_limits(void **state)
{
    (void)state;
    config_t c;
    char err[256];
    const char *f = write_file("[classifier]\nuser_daily_limit = 30\nbudget_mode = fallback\n"
                               "[user_limits]\nalice = 50\nbob-2 = 0\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), 0);
    assert_int_equal(config_user_limit(&c, "alice"), 50);
    assert_int_equal(config_user_limit(&c, "bob-2"), 0);
    assert_int_equal(config_user_limit(&c, "carol"), 30);
    assert_string_equal(c.budget_mode, "fallback");
    config_free(&c);
    assert_int_equal(config_load(&c, NULL, err, sizeof(err)), 0);
    assert_int_equal(config_user_limit(&c, "alice"), -1);
    assert_string_equal(c.budget_mode, "pause");
    assert_int_equal(c.token_rate_limit, 0);
    config_free(&c);
    f = write_file("[user_limits]\nalice = lots\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "user_limits.alice must be an integer"));
    config_free(&c);
    f = write_file("[classifier]\nbudget_mode = ignore\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "classifier.budget_mode must be one of pause|fallback"));
    config_free(&c);
    unlink(f);
}

static void test_topic_names(void **state)
{
    (void)state;
    config_t c;
    char err[512];
    const char *f = write_file("[topics]\nraw = pipeline.triage.step.classify.input\n"
                               "enriched = pipeline.triage.step.classify.output\n"
                               "dlq = pipeline.triage.step.classify.dead-letter\ncontrol = dispatchd.control\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), 0);
    config_free(&c);
    f = write_file("[topics]\nraw = my-topic\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "topics.raw: 'my-topic' follows neither"));
    config_free(&c);
    f = write_file("[topics]\nraw = my-topic\nallowed = issues.enriched, my-topic ,issues.raw.dlq,dispatchd.control,issues.raw.retry\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), 0);
    config_free(&c);
    f = write_file("[topics]\nraw = pipeline.a.step.b.sideways\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), -1);
    config_free(&c);
    f = write_file("[topics]\nraw = bad/name\n");
    assert_int_equal(config_load(&c, f, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a legal Kafka topic name"));
    config_free(&c);
    unlink(f);
}

static void test_example_config_loads(void **state)
{
    (void)state;
    config_t c;
    char err[256];
    assert_int_equal(config_load(&c, DISPATCHD_SOURCE_DIR "/config/dispatchd.conf", err, sizeof(err)), 0);
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_then_env),
        cmocka_unit_test(test_errors_name_the_key),
        cmocka_unit_test(test_topic_names),
        cmocka_unit_test(test_user_limits),
        cmocka_unit_test(test_example_config_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
