/*
 * model_train.c -- training the local model (model.h): both members by
 * dual coordinate descent, each member's out-of-fold score spread for the
 * ensemble, and the Platt sigmoid of the confidence, from an inner 5-fold
 * cross-validation on the training examples themselves. The examples'
 * bodies are cleaned once, in model_train (model_clean_body).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_internal.h"

enum { INNER_FOLDS = 5 };
#define INNER_SEED 0x5eedULL
#define NB_ALPHA 1.0   /* the log-count ratio's smoothing */
#define STACK_PULL 0.1
#define STACK_STEP 0.5
enum { STACK_ITERATIONS = 2000 };

/* The stacker's weight of standardized score j for class k when it is the
 * plain sum of both members' (z: member 1's classes, then member 2's). */
static double plain_sum(size_t k, size_t j, size_t nclasses)
{
    return j == k || j == nclasses + k ? 1 : 0;
}

/* A sparse example, copied for training. */
typedef struct sparse {
    unsigned *idx;
    float *val;
    size_t n;
} sparse_t;

static void sparse_copy(sparse_t *x, const model_vec_t *v)
{
    x->n = v->n;
    x->idx = malloc(v->n * sizeof(unsigned) + 1);
    x->val = malloc(v->n * sizeof(float) + 1);
    if (x->idx == NULL || x->val == NULL)
        abort();
    memcpy(x->idx, v->idx, v->n * sizeof(unsigned));
    memcpy(x->val, v->val, v->n * sizeof(float));
}

static void sparse_free(sparse_t *xs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(xs[i].idx);
        free(xs[i].val);
    }
    free(xs);
}

/* Class k against the rest: an L2-loss linear SVM by dual coordinate
 * descent (Hsieh et al., ICML 2008), the bias as a constant feature, a
 * fixed seed. w: [dim], zeroed here. */
static void svm_binary(const sparse_t *xs, size_t n, const int *label, int k, double c, unsigned dim, double *w,
                       double *b)
{
    double *alpha = calloc(n, sizeof(double)), *sq = malloc(n * sizeof(double));
    size_t *order = malloc(n * sizeof(size_t));
    memset(w, 0, dim * sizeof(double));
    *b = 0;
    for (size_t i = 0; i < n; i++) {
        double s = 1.0;   /* the bias feature */
        for (size_t j = 0; j < xs[i].n; j++) {
            double x = xs[i].val[j];
            s += x * x;
        }
        sq[i] = s;
        order[i] = i;
    }
    double diag = 0.5 / c;
    uint64_t rng = 0x2545F4914F6CDD1DULL + (uint64_t)k;
    for (int epoch = 0; epoch < 200; epoch++) {
        for (size_t i = n - 1; i > 0; i--) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            size_t j = rng % (i + 1), t = order[i];
            order[i] = order[j], order[j] = t;
        }
        double maxpg = -INFINITY, minpg = INFINITY;
        for (size_t oi = 0; oi < n; oi++) {
            size_t i = order[oi];
            double y = label[i] == k ? 1.0 : -1.0, dot = *b;
            for (size_t j = 0; j < xs[i].n; j++)
                dot += w[xs[i].idx[j]] * xs[i].val[j];
            double g = y * dot - 1.0 + diag * alpha[i];
            double pg = alpha[i] == 0 ? fmin(g, 0) : g;
            maxpg = fmax(maxpg, pg);
            minpg = fmin(minpg, pg);
            if (fabs(pg) < 1e-12)
                continue;
            double old = alpha[i];
            alpha[i] = fmax(alpha[i] - g / (sq[i] + diag), 0);
            double d = (alpha[i] - old) * y;
            for (size_t j = 0; j < xs[i].n; j++)
                w[xs[i].idx[j]] += d * xs[i].val[j];
            *b += d;
        }
        if (maxpg - minpg < 0.01)
            break;
    }
    free(alpha);
    free(sq);
    free(order);
}

/* Member 1: idf from the examples, then an SVM per class. */
static void train_svm(model_t *m, const model_example_t *ex, size_t n, const int *label, double c, model_vec_t *v)
{
    uint32_t *df = calloc(MODEL_DIM, sizeof(uint32_t));
    unsigned char *seen = calloc(MODEL_DIM, 1);
    /* Document frequencies, then smooth idf as sklearn's: ln((1+n)/(1+df))+1. */
    for (size_t i = 0; i < n; i++) {
        model_features_clean(v, &ex[i].issue, NULL);
        for (size_t j = 0; j < v->n; j++)
            if (!seen[v->idx[j]]) {
                seen[v->idx[j]] = 1;
                df[v->idx[j]]++;
            }
        for (size_t j = 0; j < v->n; j++)
            seen[v->idx[j]] = 0;
    }
    for (unsigned j = 0; j < MODEL_DIM; j++)
        m->idf[j] = df[j] ? (float)(log((1.0 + (double)n) / (1.0 + df[j])) + 1.0) : 0.0f;
    sparse_t *xs = calloc(n, sizeof(*xs));
    for (size_t i = 0; i < n; i++) {
        model_features_clean(v, &ex[i].issue, m->idf);
        sparse_copy(&xs[i], v);
    }
    double *w = malloc(MODEL_DIM * sizeof(double)), b;
    float *weights = malloc((size_t)MODEL_DIM * (size_t)m->nclasses * sizeof(float));
    for (int k = 0; k < m->nclasses; k++) {
        svm_binary(xs, n, label, k, c, MODEL_DIM, w, &b);
        for (unsigned j = 0; j < MODEL_DIM; j++)
            weights[(size_t)j * (size_t)m->nclasses + (size_t)k] = (float)w[j];
        m->bias[k] = (float)b;
    }
    model_code_weights(weights, MODEL_DIM, m->nclasses, m->code, m->value);
    free(weights);
    free(w);
    sparse_free(xs, n);
    free(df);
    free(seen);
}

/* Member 2: per class the log-count ratio of each bucket between the
 * class's examples and the rest, an SVM over the features so scaled; the
 * ratio is folded into the weights. */
static void train_nb(model_t *m, const model_example_t *ex, size_t n, const int *label, model_vec_t *v)
{
    sparse_t *xs = calloc(n, sizeof(*xs));
    for (size_t i = 0; i < n; i++) {
        model_nb_features_clean(v, &ex[i].issue);
        sparse_copy(&xs[i], v);
    }
    float *pos = calloc(MODEL_NB_DIM, sizeof(float)), *neg = calloc(MODEL_NB_DIM, sizeof(float));
    float *r = malloc(MODEL_NB_DIM * sizeof(float));
    double *w = malloc(MODEL_NB_DIM * sizeof(double)), b;
    float *folded = malloc((size_t)MODEL_NB_DIM * (size_t)m->nclasses * sizeof(float));
    sparse_t *scaled = calloc(n, sizeof(*scaled));
    for (size_t i = 0; i < n; i++) {
        scaled[i].idx = xs[i].idx;
        scaled[i].n = xs[i].n;
        if ((scaled[i].val = malloc(xs[i].n * sizeof(float) + 1)) == NULL)
            abort();
    }
    for (int k = 0; k < m->nclasses; k++) {
        memset(pos, 0, MODEL_NB_DIM * sizeof(float));
        memset(neg, 0, MODEL_NB_DIM * sizeof(float));
        double np = NB_ALPHA * MODEL_NB_DIM, nn = NB_ALPHA * MODEL_NB_DIM;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < xs[i].n; j++) {
                if (label[i] == k)
                    pos[xs[i].idx[j]] += 1, np += 1;
                else
                    neg[xs[i].idx[j]] += 1, nn += 1;
            }
        for (unsigned j = 0; j < MODEL_NB_DIM; j++)
            r[j] = (float)(log((NB_ALPHA + pos[j]) / np) - log((NB_ALPHA + neg[j]) / nn));
        /* The examples scaled by the ratio once, not at each of the
         * solver's visits (their random reads of r were half its time). */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < xs[i].n; j++)
                scaled[i].val[j] = xs[i].val[j] * r[xs[i].idx[j]];
        svm_binary(scaled, n, label, k, MODEL_NB_C, MODEL_NB_DIM, w, &b);
        for (unsigned j = 0; j < MODEL_NB_DIM; j++)
            folded[(size_t)j * (size_t)m->nclasses + (size_t)k] = (float)(w[j] * r[j]);
        m->nb_bias[k] = (float)b;
    }
    model_code_weights(folded, MODEL_NB_DIM, m->nclasses, m->nb_code, m->nb_value);
    free(folded);
    for (size_t i = 0; i < n; i++)
        free(scaled[i].val);
    free(scaled);
    free(pos);
    free(neg);
    free(r);
    free(w);
    sparse_free(xs, n);
}

static model_t *model_new(const char *const *names, int nclasses)
{
    model_t *m = calloc(1, sizeof(*m));
    m->nclasses = nclasses;
    for (int k = 0; k < nclasses; k++) {
        snprintf(m->classes[k], sizeof(m->classes[k]), "%s", names[k]);
        m->sd[0][k] = m->sd[1][k] = 1;
        for (int j = 0; j < 2 * nclasses; j++)   /* the plain sum until stack_fit */
            m->stack_w[k][j] = (float)plain_sum((size_t)k, (size_t)j, (size_t)nclasses);
    }
    m->idf = calloc(MODEL_DIM, sizeof(float));
    m->code = calloc((size_t)MODEL_DIM * (size_t)nclasses, 1);
    m->nb_code = calloc((size_t)MODEL_NB_DIM * (size_t)nclasses, 1);
    if (m->idf == NULL || m->code == NULL || m->nb_code == NULL)
        abort();
    m->platt_a = 1;
    return m;
}

static void train_members(model_t *m, const model_example_t *ex, size_t n, double c, model_vec_t *v)
{
    int *label = malloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++)
        label[i] = ex[i].label;
    train_svm(m, ex, n, label, c, v);
    train_nb(m, ex, n, label, v);
    free(label);
}

/* Platt's fit of P(right | margin) = 1 / (1 + exp(-(a m + b))) by Newton's
 * method on the log loss, with his smoothed targets (Platt, 1999; Lin, Lin
 * and Weng, 2007). */
static void platt_fit(const double *margin, const bool *right, size_t n, float *pa, float *pb)
{
    double npos = 0;
    for (size_t i = 0; i < n; i++)
        npos += right[i];
    double nneg = (double)n - npos, hi = (npos + 1) / (npos + 2), lo = 1 / (nneg + 2);
    double a = 1, b = log((npos + 1) / (nneg + 1));
    for (int it = 0; it < 100; it++) {
        double g1 = 0, g2 = 0, h11 = 1e-12, h22 = 1e-12, h21 = 0, loss = 0;
        for (size_t i = 0; i < n; i++) {
            double t = right[i] ? hi : lo, f = a * margin[i] + b;
            double p = 1 / (1 + exp(-f)), d = p - t, q = fmax(p * (1 - p), 1e-12);
            g1 += d * margin[i], g2 += d;
            h11 += q * margin[i] * margin[i], h22 += q, h21 += q * margin[i];
            loss += -(t * log(fmax(p, 1e-300)) + (1 - t) * log(fmax(1 - p, 1e-300)));
        }
        if (fabs(g1) < 1e-7 && fabs(g2) < 1e-7)
            break;
        double det = h11 * h22 - h21 * h21;
        double da = -(h22 * g1 - h21 * g2) / det, db = -(-h21 * g1 + h11 * g2) / det;
        for (double step = 1; step > 1e-8; step /= 2) {   /* backtracking: the loss must fall */
            double na = a + step * da, nb = b + step * db, nl = 0;
            for (size_t i = 0; i < n; i++) {
                double t = right[i] ? hi : lo, p = 1 / (1 + exp(-(na * margin[i] + nb)));
                nl += -(t * log(fmax(p, 1e-300)) + (1 - t) * log(fmax(1 - p, 1e-300)));
            }
            if (nl < loss + 1e-12) {
                a = na, b = nb;
                break;
            }
        }
    }
    *pa = (float)a, *pb = (float)b;
}

/* The ensemble's combination: a multinomial logistic regression over both
 * members' standardized out-of-fold scores (stacking, Wolpert 1992), by
 * gradient descent from the plain sum, its weights kept near that sum by
 * an L2 pull of STACK_PULL. It weighs each member per class and evens out
 * the classes' biases: 5-fold CV (3 seeds, four hashings of the
 * repositories) 0.802 against the plain sum's 0.800; a pull of 0.01 did
 * as well, 1 and 0.0001 less. */
static void stack_fit(model_t *m, const model_example_t *ex, size_t n, const double *s1, const double *s2)
{
    size_t K = (size_t)m->nclasses, D = 2 * K;
    double *z = malloc(n * D * sizeof(double));
    for (size_t i = 0; i < n; i++)
        model_standardize(m, &s1[i * K], &s2[i * K], &z[i * D]);
    double w[MODEL_MAX_CLASSES][2 * MODEL_MAX_CLASSES], b[MODEL_MAX_CLASSES] = {0};
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < D; j++)
            w[k][j] = plain_sum(k, j, K);
    for (int it = 0; it < STACK_ITERATIONS; it++) {
        double gw[MODEL_MAX_CLASSES][2 * MODEL_MAX_CLASSES] = {{0}}, gb[MODEL_MAX_CLASSES] = {0};
        for (size_t i = 0; i < n; i++) {
            double p[MODEL_MAX_CLASSES], top = -INFINITY, sum = 0;
            for (size_t k = 0; k < K; k++) {
                p[k] = b[k];
                for (size_t j = 0; j < D; j++)
                    p[k] += w[k][j] * z[i * D + j];
                top = fmax(top, p[k]);
            }
            for (size_t k = 0; k < K; k++)
                sum += (p[k] = exp(p[k] - top));
            for (size_t k = 0; k < K; k++) {
                double d = (p[k] / sum - (ex[i].label == (int)k)) / (double)n;
                gb[k] += d;
                for (size_t j = 0; j < D; j++)
                    gw[k][j] += d * z[i * D + j];
            }
        }
        for (size_t k = 0; k < K; k++) {
            b[k] -= STACK_STEP * gb[k];
            for (size_t j = 0; j < D; j++)
                w[k][j] -= STACK_STEP * (gw[k][j] + STACK_PULL * (w[k][j] - plain_sum(k, j, K)));
        }
    }
    for (size_t k = 0; k < K; k++) {
        m->stack_b[k] = (float)b[k];
        for (size_t j = 0; j < D; j++)
            m->stack_w[k][j] = (float)w[k][j];
    }
    free(z);
}

/* Each member's out-of-fold scores for the ensemble's standardization and
 * combination, and the confidence's calibration. */
static void calibrate(model_t *m, const model_example_t *ex, size_t n, double c, model_vec_t *v)
{
    int folds = INNER_FOLDS, count[MODEL_MAX_CLASSES] = {0};
    for (size_t i = 0; i < n; i++)
        count[ex[i].label]++;
    for (int k = 0; k < m->nclasses; k++)
        folds = count[k] < folds ? count[k] : folds;
    if (folds < 2)
        return;   /* too few examples: unit spreads, the default sigmoid */
    size_t K = (size_t)m->nclasses;
    int *fold = malloc(n * sizeof(int));
    double *s1 = malloc(n * K * sizeof(double)), *s2 = malloc(n * K * sizeof(double));
    model_example_t *rest = malloc(n * sizeof(*rest));
    model_folds(ex, n, folds, INNER_SEED, fold);
    const char *names[MODEL_MAX_CLASSES];
    for (size_t k = 0; k < K; k++)
        names[k] = m->classes[k];
    for (int f = 0; f < folds; f++) {
        size_t nr = 0;
        for (size_t i = 0; i < n; i++)
            if (fold[i] != f)
                rest[nr++] = ex[i];
        model_t *part = model_new(names, m->nclasses);
        train_members(part, rest, nr, c, v);
        for (size_t i = 0; i < n; i++)
            if (fold[i] == f) {
                model_features_clean(v, &ex[i].issue, part->idf);
                model_svm_scores(part, v, &s1[i * K]);
                model_nb_features_clean(v, &ex[i].issue);
                model_nb_scores(part, v, &s2[i * K]);
            }
        model_free(part);
    }
    for (size_t k = 0; k < K; k++) {
        double sum[2] = {0}, sq[2] = {0};
        for (size_t i = 0; i < n; i++) {
            sum[0] += s1[i * K + k], sq[0] += s1[i * K + k] * s1[i * K + k];
            sum[1] += s2[i * K + k], sq[1] += s2[i * K + k] * s2[i * K + k];
        }
        for (int j = 0; j < 2; j++) {
            double mu = sum[j] / (double)n, var = sq[j] / (double)n - mu * mu;
            m->mu[j][k] = (float)mu;
            m->sd[j][k] = (float)fmax(sqrt(fmax(var, 0)), 1e-6);
        }
    }
    stack_fit(m, ex, n, s1, s2);
    double *margin = malloc(n * sizeof(double));
    bool *right = malloc(n * sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        double s[MODEL_MAX_CLASSES];
        model_combine(m, &s1[i * K], &s2[i * K], s);
        right[i] = model_margin(m, s, &margin[i]) == ex[i].label;
    }
    platt_fit(margin, right, n, &m->platt_a, &m->platt_b);
    free(margin);
    free(right);
    free(fold);
    free(s1);
    free(s2);
    free(rest);
}

model_t *model_train(const model_example_t *ex, size_t n, const char *const *names, int nclasses, double c)
{
    if (nclasses < 2 || nclasses > MODEL_MAX_CLASSES || n == 0)
        return NULL;
    model_t *m = model_new(names, nclasses);
    model_vec_t v;
    model_vec_init(&v);
    /* Each body read through model_clean_body once: every function above
     * takes the examples' bodies clean. */
    model_example_t *clean = malloc(n * sizeof(*clean));
    for (size_t i = 0; i < n; i++) {
        clean[i] = ex[i];
        clean[i].issue.body = strdup(model_clean_body(&v, ex[i].issue.body));
        if (clean[i].issue.body == NULL)
            abort();
    }
    calibrate(m, clean, n, c, &v);
    train_members(m, clean, n, c, &v);
    for (size_t i = 0; i < n; i++)
        free((char *)clean[i].issue.body);
    free(clean);
    model_vec_free(&v);
    return m;
}

void model_folds(const model_example_t *ex, size_t n, int k, uint64_t seed, int *fold)
{
    size_t *order = malloc((n ? n : 1) * sizeof(*order));
    uint64_t rng = model_mix(seed + 0x9e3779b97f4a7c15ULL) | 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        size_t j = rng % i, t = order[i - 1];
        order[i - 1] = order[j], order[j] = t;
    }
    int next[MODEL_MAX_CLASSES] = {0};
    for (size_t i = 0; i < n; i++) {
        int label = ex[order[i]].label;
        fold[order[i]] = next[label]++ % k;
    }
    free(order);
}

