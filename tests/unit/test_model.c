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
        ex[3 * i] = (model_example_t){{NULL, BUG[i], "steps to reproduce: it fails with an error"}, 0};
        ex[3 * i + 1] = (model_example_t){{NULL, FEAT[i], "it would be great to have this option"}, 1};
        ex[3 * i + 2] = (model_example_t){{NULL, QUES[i], "I am not sure how to do this, any help?"}, 2};
    }
    const char *names[3] = {"bug", "feature", "question"};
    return model_train(ex, 15, names, 3, 1.0);
}

static int predict(const model_t *m, model_vec_t *v, const char *repo, const char *title, const char *body, double *p)
{
    model_issue_t is = {repo, title, body};
    return model_predict(m, v, &is, p);
}

static void test_separates_and_round_trips(void **state)
{
    (void)state;
    model_t *m = train();
    assert_non_null(m);
    model_vec_t v;
    model_vec_init(&v);
    double p;
    assert_int_equal(predict(m, &v, NULL, "The app crashes with an error", "stack trace attached", &p), 0);
    assert_true(p > 0.34 && p <= 1.0);
    assert_int_equal(predict(m, &v, NULL, "Add support for TOML", "would be great to have", &p), 1);
    assert_int_equal(predict(m, &v, NULL, "How do I install it?", "any help?", &p), 2);

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
        assert_int_equal(predict(m, &v, "a/b", QUES[i], "", &p1), predict(back, &v, "a/b", QUES[i], "", &p2));
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
    cls_input_t in = {"Add support for TOML", "would be great to have", NULL, 0, "a/b"};
    classify_local(back, &v, &in, &c);
    assert_string_equal(c.category, "feature_request");
    assert_string_equal(c.provider, "local");
    const char *labels[] = {"good first issue", "type: bug"};
    cls_input_t in2 = {"Add support for TOML", "", labels, 2, NULL};
    classify_local(back, &v, &in2, &c);
    assert_string_equal(c.category, "bug");
    assert_true(c.confidence >= 0.8);
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
    model_issue_t is = {NULL, "Title", body};
    model_features(&a, &is, NULL);
    /* only the first MODEL_BODY_WORDS / MODEL_BODY_CHARS bytes count */
    assert_true(a.n < 3 * MODEL_BODY_WORDS);
    model_features(&b, &is, NULL);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.idx, b.idx, a.n * sizeof(unsigned));
    model_issue_t none = {NULL, NULL, NULL};
    model_features(&a, &none, NULL);
    assert_int_equal(a.n, 0);
    model_nb_features(&a, &none);
    assert_int_equal(a.n, 0);
    free(body);
    model_vec_free(&a);
    model_vec_free(&b);
}

/* A repository adds its own copy of the word terms (not of member 1's
 * character n-grams); its name's case does not matter. */
static void test_repository_terms(void **state)
{
    (void)state;
    model_vec_t a, b;
    model_vec_init(&a);
    model_vec_init(&b);
    model_issue_t plain = {NULL, "Crash on save", "It fails"}, repo = {"Owner/Name", "Crash on save", "It fails"},
                  folded = {"owner/name", "Crash on save", "It fails"}, other = {"owner/other", "Crash on save", "It fails"};
    model_nb_features(&a, &plain);
    size_t nplain = a.n;
    model_nb_features(&a, &repo);
    assert_int_equal(a.n, 2 * nplain);
    model_nb_features(&b, &folded);
    assert_int_equal(b.n, a.n);
    assert_memory_equal(a.idx, b.idx, a.n * sizeof(unsigned));
    model_nb_features(&b, &other);
    assert_memory_not_equal(a.idx, b.idx, a.n * sizeof(unsigned));
    model_features(&a, &plain, NULL);
    nplain = a.n;
    model_features(&a, &repo, NULL);
    assert_true(a.n > nplain && a.n < 2 * nplain);
    model_vec_free(&a);
    model_vec_free(&b);
}

/* The same words meaning a bug in one project's issues and a feature
 * request in another's: the model tells them apart by repository. */
static void test_repository_meaning(void **state)
{
    (void)state;
    enum { N = 10 };
    model_example_t ex[3 * N];
    char titles[N][64];
    for (int i = 0; i < N; i++) {
        snprintf(titles[i], sizeof(titles[i]), "Widget panel number %d", i);
        ex[3 * i] = (model_example_t){{"team/one", titles[i], "the widget panel"}, 0};
        ex[3 * i + 1] = (model_example_t){{"team/two", titles[i], "the widget panel"}, 1};
        ex[3 * i + 2] = (model_example_t){{i % 2 ? "team/one" : "team/two", QUES[i % 5], "how would I do it?"}, 2};
    }
    const char *names[3] = {"bug", "feature", "question"};
    model_t *m = model_train(ex, 3 * N, names, 3, 1.0);
    assert_non_null(m);
    model_vec_t v;
    model_vec_init(&v);
    double p;
    assert_int_equal(predict(m, &v, "team/one", "Widget panel", "the widget panel", &p), 0);
    assert_int_equal(predict(m, &v, "TEAM/two", "Widget panel", "the widget panel", &p), 1);
    model_vec_free(&v);
    model_free(m);
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
    /* each code block leaves its mark */
    const char *mark = strstr(c, MODEL_CODE_MARK);
    assert_non_null(mark);
    assert_non_null(strstr(mark + 1, MODEL_CODE_MARK));
    /* HTML comments go, over lines too, and a fence inside one is not code */
    c = model_clean_body(&v, "Before<!-- the template's\nhint\n```\n--> after\nlast line");
    assert_null(strstr(c, "template"));
    assert_null(strstr(c, "hint"));
    assert_null(strstr(c, MODEL_CODE_MARK));
    assert_non_null(strstr(c, "Before"));
    assert_non_null(strstr(c, " after"));
    assert_non_null(strstr(c, "last line"));
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
                                       cmocka_unit_test(test_repository_terms),
                                       cmocka_unit_test(test_repository_meaning), cmocka_unit_test(test_clean_body),
                                       cmocka_unit_test(test_csv_quoting)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
