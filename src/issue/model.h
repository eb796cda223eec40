/*
 * model.h -- the local classifier: a linear model over hashed word and
 * character n-grams of an issue's title and body, trained by `dispatchd
 * train` and run in-process.
 *
 * Features, in five blocks hashed into one space of 2^MODEL_BITS buckets:
 * title words and word pairs; body words and word pairs (first
 * MODEL_BODY_WORDS bytes); title character 1-4-grams within words; body
 * character 1-4-grams (first MODEL_BODY_CHARS bytes); the words of the
 * body's headings and bold lines, the issue templates' fields (first
 * MODEL_BODY_HEADINGS bytes). Each term counts 1 + ln(count), times its
 * bucket's idf; each block is scaled to unit length, the body's words to
 * twice that. One-vs-rest L2-loss linear SVMs (dual coordinate descent) give a
 * score per class; the confidence is the softmax of the scores. These
 * choices came from 5-fold cross-validation on the NLBSE'24 training file:
 * body character n-grams beyond the first few hundred bytes cost time and
 * added nothing; without them macro-F1 fell by three points.
 */
#ifndef DISPATCHD_MODEL_H
#define DISPATCHD_MODEL_H

#include <stddef.h>

#define MODEL_BITS 16
#define MODEL_DIM (1u << MODEL_BITS)
#define MODEL_MAX_CLASSES 8
#define MODEL_BODY_WORDS 4000
#define MODEL_BODY_CHARS 300
#define MODEL_BODY_HEADINGS 16000

typedef struct model {
    int nclasses;
    char classes[MODEL_MAX_CLASSES][32];
    float *idf;                    /* [MODEL_DIM] */
    float *w;                      /* [MODEL_DIM][nclasses], interleaved */
    float bias[MODEL_MAX_CLASSES];
} model_t;

/* A sparse feature vector; reused between calls to stay allocation-free. */
typedef struct model_vec {
    unsigned *idx;
    float *val;
    size_t n, cap;
    float *acc;                    /* [MODEL_DIM] scratch, kept zeroed */
    unsigned *touched;
    size_t ntouched, captouched;
} model_vec_t;

void model_vec_init(model_vec_t *v);
void model_vec_free(model_vec_t *v);

/* The features of one issue; idf NULL gives raw term weights (training
 * computes idf from those). */
void model_features(model_vec_t *v, const char *title, const char *body, const float *idf);

typedef struct model_example {
    const char *title, *body;
    int label;                     /* index into the class names */
} model_example_t;

/* Trains on n examples of nclasses classes named `names`. */
model_t *model_train(const model_example_t *ex, size_t n, const char *const *names, int nclasses, double c);
/* The best class, and its softmax probability in *confidence. */
int model_predict(const model_t *m, model_vec_t *scratch, const char *title, const char *body, double *confidence);

int model_save(const model_t *m, const char *path, char *err, size_t errlen);
model_t *model_load(const char *path, char *err, size_t errlen);
void model_free(model_t *m);

#endif
