/* The local model: trains on a small synthetic set and separates it; a
 * saved model loads back with the same predictions; features are bounded
 * and deterministic; the CSV reader handles RFC 4180 quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "csv.h"
#include "local.h"
#include "model.h"

static const char *BUG[] = {"App crashes on startup", "Segfault when saving file", "Error: null pointer exception",
                            "Regression: build fails after upgrade", "Crash in renderer with stack trace"};
static const char *FEAT[] = {"Add support for YAML config", "Feature request: dark mode", "Allow exporting as CSV",
                             "Support for plugins would be nice", "Add an option to disable telemetry"};
static const char *QUES[] = {"How do I configure logging?", "What is the difference between A and B?",
                             "Is it possible to run offline?", "How can I use this with Docker?",
                             "Why does install need root?"};

static model_t *train(void)
{
    model_example_t ex[15];
    for (int i = 0; i < 5; i++) {
        ex[3 * i] = (model_example_t){BUG[i], "steps to reproduce: it fails with an error", 0};
        ex[3 * i + 1] = (model_example_t){FEAT[i], "it would be great to have this option", 1};
        ex[3 * i + 2] = (model_example_t){QUES[i], "I am not sure how to do this, any help?", 2};
    }
    const char *names[3] = {"bug", "feature", "question"};
    return model_train(ex, 15, names, 3, 1.0);
}

static void test_separates_and_round_trips(void **state)
{
    (void)state;
    model_t *m = train();
    assert_non_null(m);
    model_vec_t v;
    model_vec_init(&v);
    double p;
    assert_int_equal(model_predict(m, &v, "The app crashes with an error", "stack trace attached", &p), 0);
    assert_true(p > 0.34 && p <= 1.0);
    assert_int_equal(model_predict(m, &v, "Add support for TOML", "would be great to have", &p), 1);
    assert_int_equal(model_predict(m, &v, "How do I install it?", "any help?", &p), 2);

    char path[] = "/tmp/dispatchd-model-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    char err[256];
    assert_int_equal(model_save(m, path, err, sizeof(err)), 0);
    model_t *back = model_load(path, err, sizeof(err));
    assert_non_null(back);
    assert_string_equal(back->classes[1], "feature");
    for (int i = 0; i < 5; i++) {
        double p1, p2;
        assert_int_equal(model_predict(m, &v, QUES[i], "", &p1), model_predict(back, &v, QUES[i], "", &p2));
        assert_true(p1 == p2);
    }
    /* Not a model: refused with the reason. */
    FILE *f = fopen(path, "w");
    fputs("hello", f);
    fclose(f);
    assert_null(model_load(path, err, sizeof(err)));
    assert_non_null(strstr(err, "not a dispatchd model"));
    unlink(path);

    /* The provider: the classification's category names, a label wins. */
    classification_t c;
    cls_input_t in = {"Add support for TOML", "would be great to have", NULL};
    classify_local(back, &v, &in, &c);
    assert_string_equal(c.category, "feature_request");
    assert_string_equal(c.provider, "local");
    json_t *labels = json_loads("[{\"name\":\"type: bug\"}]", 0, NULL);
    cls_input_t in2 = {"Add support for TOML", "", labels};
    classify_local(back, &v, &in2, &c);
    assert_string_equal(c.category, "bug");
    assert_true(c.confidence >= 0.8);
    json_decref(labels);
    model_free(back);
    model_free(m);
    model_vec_free(&v);
}

static void test_features_bounded_and_deterministic(void **state)
{
    (void)state;
    model_vec_t a, b;
    model_vec_init(&a);
    model_vec_init(&b);
    size_t big = 1 << 20;
    char *body = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        body[i] = "abcdefgh ij\n"[i % 12];
    body[big] = '\0';
    model_features(&a, "Title", body, NULL);
    /* only the first MODEL_BODY_WORDS / MODEL_BODY_CHARS bytes count */
    assert_true(a.n < 3 * MODEL_BODY_WORDS);
    model_features(&b, "Title", body, NULL);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.idx, b.idx, a.n * sizeof(unsigned));
    model_features(&a, NULL, NULL, NULL);
    assert_int_equal(a.n, 0);
    free(body);
    model_vec_free(&a);
    model_vec_free(&b);
}

static void test_clean_body(void **state)
{
    (void)state;
    model_vec_t v;
    model_vec_init(&v);
    const char *body = "Steps:\n```js\nconst secret = crash();\n```\nSee https://example.com/a?b=c for it.\n"
                       "~~~\nmore code\n~~~\nThe end";
    const char *c = model_clean_body(&v, body);
    assert_null(strstr(c, "secret"));
    assert_null(strstr(c, "more code"));
    assert_null(strstr(c, "example.com"));
    assert_non_null(strstr(c, "Steps:"));
    assert_non_null(strstr(c, "See   for it."));
    assert_non_null(strstr(c, "The end"));
    /* cut at MODEL_BODY_CLEAN bytes */
    char *big = malloc(5 * MODEL_BODY_CLEAN + 1);
    memset(big, 'a', 5 * MODEL_BODY_CLEAN);
    big[5 * MODEL_BODY_CLEAN] = '\0';
    assert_int_equal(strlen(model_clean_body(&v, big)), MODEL_BODY_CLEAN);
    assert_string_equal(model_clean_body(&v, NULL), "");
    free(big);
    model_vec_free(&v);
}

static void test_csv_quoting(void **state)
{
    (void)state;
    const char *text = "repo,label,title,body\r\n"
                       "a/b,bug,\"Crash, badly\",\"line 1\nline \"\"2\"\"\"\n"
                       "c/d,question,plain,\n"
                       "e/f,feature,\"unterminated\n";
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    csv_reader_t r;
    csv_open(&r, f);
    csv_record_t rec;
    char err[128];
    assert_int_equal(csv_read(&r, &rec, err, sizeof(err)), 1);
    assert_int_equal(csv_column(&rec, "title"), 2);
    assert_int_equal(csv_read(&r, &rec, err, sizeof(err)), 1);
    assert_int_equal(rec.n, 4);
    assert_string_equal(rec.field[2], "Crash, badly");
    assert_string_equal(rec.field[3], "line 1\nline \"2\"");
    assert_int_equal(csv_read(&r, &rec, err, sizeof(err)), 1);
    assert_string_equal(rec.field[3], "");
    assert_int_equal(csv_read(&r, &rec, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "never ends"));
    csv_close(&r);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_separates_and_round_trips),
                                       cmocka_unit_test(test_features_bounded_and_deterministic),
                                       cmocka_unit_test(test_clean_body), cmocka_unit_test(test_csv_quoting)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
