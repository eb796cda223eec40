/*
 * model.h -- the local classifier: an ensemble of two linear models over
 * hashed n-grams of an issue's title and body, trained by `dispatchd
 * train` and run in-process, its confidence calibrated.
 *
 * The body is read without fenced code blocks (each leaves a mark word),
 * HTML comments and URLs, cut at MODEL_BODY_CLEAN bytes
 * (model_clean_body). Member 1, an SVM over
 * tf-idf: five blocks hashed into 2^MODEL_BITS buckets -- title words and
 * word pairs; body words and pairs; title character 1-4-grams within
 * words; body character 1-4-grams (first MODEL_BODY_CHARS bytes); the
 * words of the body's headings and bold lines (the issue templates'
 * fields) -- each term 1 + ln(count) times its bucket's idf, each block
 * scaled to unit length, the body's words to twice that. Member 2, an
 * NBSVM: binary word 1-3-grams and character 2-5-grams (title and first
 * MODEL_NB_CHARS bytes of the body) in 2^MODEL_NB_BITS buckets, each
 * class's features scaled by their log-count ratio (Wang and Manning,
 * 2012). Where the issue's repository is known, member 1's word and
 * heading terms and all of member 2's are counted twice: once as they
 * are and once joined with the repository's name (Daume III's feature
 * augmentation, 2007), so a term can mean one thing in one project's
 * templates and another elsewhere; an unseen repository gets the shared
 * terms only. Both are one-vs-rest L2-loss linear SVMs (dual coordinate
 * descent). The members' scores, each standardized by its out-of-fold
 * mean and spread, are combined by a multinomial logistic regression
 * fitted on out-of-fold scores (stacking); the confidence of the
 * best class is a Platt sigmoid of its margin over the second, fitted on
 * out-of-fold predictions: the share of such predictions that were right.
 * These choices come from 5-fold cross-validation (3 seeds) on the
 * NLBSE'24 training file.
 */
#ifndef DISPATCHD_MODEL_H
#define DISPATCHD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define MODEL_BITS 16
#define MODEL_DIM (1u << MODEL_BITS)
#define MODEL_NB_BITS 19
#define MODEL_NB_DIM (1u << MODEL_NB_BITS)
#define MODEL_NB_CHARS 600
#define MODEL_MAX_CLASSES 8
#define MODEL_BODY_WORDS 4000
#define MODEL_BODY_CHARS 300
#define MODEL_BODY_HEADINGS 16000
#define MODEL_BODY_CLEAN 3000
#define MODEL_CODE_MARK "zzcode"

typedef struct model {
    int nclasses;
    char classes[MODEL_MAX_CLASSES][32];
    float *idf;                    /* [MODEL_DIM] */
    /* Each member's weights, [dim][nclasses] interleaved, as a byte code
     * each, and per class the weight of each code (model_code_weights):
     * the tables stay in a core's cache. */
    uint8_t *code;                 /* [MODEL_DIM][nclasses] */
    float value[MODEL_MAX_CLASSES][256];
    float bias[MODEL_MAX_CLASSES];
    uint8_t *nb_code;              /* [MODEL_NB_DIM][nclasses]: ratio times weight, folded */
    float nb_value[MODEL_MAX_CLASSES][256];
    float nb_bias[MODEL_MAX_CLASSES];
    float mu[2][MODEL_MAX_CLASSES], sd[2][MODEL_MAX_CLASSES];   /* each member's out-of-fold scores */
    float stack_w[MODEL_MAX_CLASSES][2 * MODEL_MAX_CLASSES];   /* class k's weights of both members' standardized scores */
    float stack_b[MODEL_MAX_CLASSES];
    float platt_a, platt_b;        /* confidence = 1 / (1 + exp(-(a * margin + b))) */
} model_t;

/* A sparse feature vector; reused between calls to stay allocation-free. */
typedef struct model_vec {
    unsigned *idx;
    float *val;
    size_t n, cap;
    uint16_t *acc;                 /* [MODEL_DIM] term counts, kept zeroed (half a float's cache footprint) */
    unsigned *touched;
    size_t ntouched, captouched;
    char *text;                    /* the body as the features see it (model_clean_body) */
    size_t textcap;
    uint64_t *seen;                /* [MODEL_NB_DIM / 64] scratch, kept zeroed */
    uint64_t salt;                 /* the repository's, while a block joined with it is counted; else 0 */
} model_vec_t;

void model_vec_init(model_vec_t *v);
void model_vec_free(model_vec_t *v);

/* The body without what says little of an issue's kind and much of its
 * project: fenced code blocks (``` or ~~~; each leaves MODEL_CODE_MARK, as
 * that there was code says something), HTML comments (the templates'
 * instructions, which every issue of a project repeats) and URLs; cut at
 * MODEL_BODY_CLEAN bytes. Into v->text; returns it. */
const char *model_clean_body(model_vec_t *v, const char *body);

/* An issue as the model reads it; repo ("owner/name", any case) NULL or
 * "" when not known. */
typedef struct model_issue {
    const char *repo, *title, *body;
} model_issue_t;

/* Member 1's features of one issue; idf NULL gives raw term weights
 * (training computes idf from those). */
void model_features(model_vec_t *v, const model_issue_t *is, const float *idf);
/* Member 2's: the distinct buckets, each 1/sqrt(their number). */
void model_nb_features(model_vec_t *v, const model_issue_t *is);

typedef struct model_example {
    model_issue_t issue;
    int label;                     /* index into the class names */
} model_example_t;

/* Trains on n examples of nclasses classes named `names` (c: member 1's
 * SVM cost; member 2's is MODEL_NB_C). Deterministic: the same examples
 * give the same model. */
model_t *model_train(const model_example_t *ex, size_t n, const char *const *names, int nclasses, double c);
/* The best class, and in *confidence the calibrated probability that it
 * is right. */
int model_predict(const model_t *m, model_vec_t *scratch, const model_issue_t *is, double *confidence);
/* The ensemble's score per class (both members' standardized scores
 * through the stacker; model_best reads them). */
void model_scores(const model_t *m, model_vec_t *scratch, const model_issue_t *is, double *s);

/* Stratified folds: each class's examples shuffled by seed, then dealt
 * round-robin to the k folds; fold[i] in 0..k-1. */
void model_folds(const model_example_t *ex, size_t n, int k, uint64_t seed, int *fold);

int model_save(const model_t *m, const char *path, char *err, size_t errlen);
model_t *model_load(const char *path, char *err, size_t errlen);
void model_free(model_t *m);

#endif
