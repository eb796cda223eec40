/* model.c -- the local model's answers, and its file (model.h). */
#include "model.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model_internal.h"

/* 0003: the NBSVM member, standardized ensemble, Platt confidence.
 * 0004: terms joined with the repository; code marks, HTML comments
 * dropped. */
#define MAGIC "DDLM0004"

/* A class at a time, in four partial sums held in registers: with one sum
 * per class kept in memory, each scattered weight's load waited on the add
 * before it (a quarter of the model's time). The first class's pass brings
 * each weight's line into the cache for the others. */
static void coded_linear(const uint8_t *code, const float (*value)[256], const float *bias, int nclasses,
                         const model_vec_t *x, double *s)
{
    const unsigned *idx = x->idx;
    const float *val = x->val;
    size_t n = x->n, K = (size_t)nclasses;
    for (size_t k = 0; k < K; k++) {
        const uint8_t *ck = code + k;
        const float *vk = value[k];
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            a0 += (double)val[i] * vk[ck[(size_t)idx[i] * K]];
            a1 += (double)val[i + 1] * vk[ck[(size_t)idx[i + 1] * K]];
            a2 += (double)val[i + 2] * vk[ck[(size_t)idx[i + 2] * K]];
            a3 += (double)val[i + 3] * vk[ck[(size_t)idx[i + 3] * K]];
        }
        for (; i < n; i++)
            a0 += (double)val[i] * vk[ck[(size_t)idx[i] * K]];
        s[k] = bias[k] + ((a0 + a1) + (a2 + a3));
    }
}

void model_svm_scores(const model_t *m, const model_vec_t *x, double *s)
{
    coded_linear(m->code, (const float (*)[256])m->value, m->bias, m->nclasses, x, s);
}

void model_nb_scores(const model_t *m, const model_vec_t *x, double *s)
{
    coded_linear(m->nb_code, (const float (*)[256])m->nb_value, m->nb_bias, m->nclasses, x, s);
}

void model_code_weights(const float *w, size_t dim, int nclasses, uint8_t *code, float (*values)[256])
{
    size_t K = (size_t)nclasses;
    for (size_t k = 0; k < K; k++) {
        double top = 0;
        for (size_t j = 0; j < dim; j++)
            top = fmax(top, fabs(w[j * K + k]));
        /* 127 magnitudes from top / 10^4 to top, a constant ratio apart
         * (7.6 %): every weight within 3.7 % of its own, the smallest ones
         * (their contribution under 10^-4 of the largest) rounded to the
         * least. Code 0 is 0, codes 1-127 positive, 129-255 negative. */
        double low = top * 1e-4, step = log(1e4) / 126;
        float *value = values[k];
        value[0] = value[128] = 0;
        for (int c = 1; c < 128; c++) {
            value[c] = top > 0 ? (float)(low * exp(step * (c - 1))) : 0;
            value[128 + c] = -value[c];
        }
        for (size_t j = 0; j < dim; j++) {
            double x = w[j * K + k];
            uint8_t c8 = 0;
            if (x != 0 && top > 0) {
                long c = lround(log(fmax(fabs(x), low) / low) / step) + 1;
                c8 = (uint8_t)((c > 127 ? 127 : c) + (x < 0 ? 128 : 0));
            }
            code[j * K + k] = c8;
        }
    }
}

void model_standardize(const model_t *m, const double *s1, const double *s2, double *z)
{
    int K = m->nclasses;
    for (int k = 0; k < K; k++) {
        z[k] = (s1[k] - m->mu[0][k]) / m->sd[0][k];
        z[K + k] = (s2[k] - m->mu[1][k]) / m->sd[1][k];
    }
}

void model_combine(const model_t *m, const double *s1, const double *s2, double *s)
{
    int K = m->nclasses;
    double z[2 * MODEL_MAX_CLASSES];
    model_standardize(m, s1, s2, z);
    for (int k = 0; k < K; k++) {
        s[k] = m->stack_b[k];
        for (int j = 0; j < 2 * K; j++)
            s[k] += m->stack_w[k][j] * z[j];
    }
}

int model_margin(const model_t *m, const double *s, double *margin)
{
    int best = 0;
    for (int k = 1; k < m->nclasses; k++)
        if (s[k] > s[best])
            best = k;
    double second = -INFINITY;
    for (int k = 0; k < m->nclasses; k++)
        if (k != best && s[k] > second)
            second = s[k];
    *margin = s[best] - second;
    return best;
}

int model_best(const model_t *m, const double *s, double *confidence)
{
    double margin;
    int best = model_margin(m, s, &margin);
    if (confidence)
        *confidence = 1.0 / (1.0 + exp(-(m->platt_a * margin + m->platt_b)));
    return best;
}

void model_scores(const model_t *m, model_vec_t *scratch, const model_issue_t *is, double *s)
{
    double s1[MODEL_MAX_CLASSES], s2[MODEL_MAX_CLASSES];
    model_issue_t clean = *is;
    clean.body = model_clean_body(scratch, is->body);   /* once for both */
    model_features_clean(scratch, &clean, m->idf);
    model_svm_scores(m, scratch, s1);
    model_nb_features_clean(scratch, &clean);
    model_nb_scores(m, scratch, s2);
    model_combine(m, s1, s2, s);
}

int model_predict(const model_t *m, model_vec_t *scratch, const model_issue_t *is, double *confidence)
{
    double s[MODEL_MAX_CLASSES];
    model_scores(m, scratch, is, s);
    return model_best(m, s, confidence);
}

/* Format (gzip): MAGIC, u32 bits, u32 nb_bits, u32 nclasses, nclasses x
 * char[32] names, float bias[nclasses], float idf[dim], float
 * u8 code[dim][nclasses], float value[nclasses][256], float
 * nb_bias[nclasses], u8 nb_code[nb_dim][nclasses], float
 * nb_value[nclasses][256],
 * float mu[2][nclasses], float sd[2][nclasses], float
 * stack_w[nclasses][2 nclasses], float stack_b[nclasses], float platt[2];
 * little endian, as the machines it runs on. */
static bool put(gzFile f, const void *p, size_t n)
{
    return gzwrite(f, p, (unsigned)n) == (int)n;
}

static bool get(gzFile f, void *p, size_t n)
{
    return gzread(f, p, (unsigned)n) == (int)n;
}

int model_save(const model_t *m, const char *path, char *err, size_t errlen)
{
    gzFile f = gzopen(path, "wb9");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    size_t k = (size_t)m->nclasses, fk = k * sizeof(float);
    uint32_t hdr[3] = {MODEL_BITS, MODEL_NB_BITS, (uint32_t)k};
    bool ok = put(f, MAGIC, 8) && put(f, hdr, sizeof(hdr));
    for (size_t i = 0; i < k && ok; i++)
        ok = put(f, m->classes[i], 32);
    float platt[2] = {m->platt_a, m->platt_b};
    ok = ok && put(f, m->bias, fk) && put(f, m->idf, MODEL_DIM * sizeof(float)) && put(f, m->code, MODEL_DIM * k) &&
         put(f, m->nb_bias, fk) && put(f, m->nb_code, MODEL_NB_DIM * k) && put(f, m->mu[0], fk) &&
         put(f, m->mu[1], fk) && put(f, m->sd[0], fk) && put(f, m->sd[1], fk);
    for (size_t i = 0; i < k && ok; i++)
        ok = put(f, m->value[i], sizeof(m->value[i])) && put(f, m->nb_value[i], sizeof(m->nb_value[i]));
    for (size_t i = 0; i < k && ok; i++)
        ok = put(f, m->stack_w[i], 2 * fk);
    ok = ok && put(f, m->stack_b, fk) && put(f, platt, sizeof(platt));
    if (gzclose(f) != Z_OK || !ok) {
        snprintf(err, errlen, "writing %s failed", path);
        return -1;
    }
    return 0;
}

model_t *model_load(const char *path, char *err, size_t errlen)
{
    gzFile f = gzopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read model %s", path);
        return NULL;
    }
    char magic[9] = {0};
    uint32_t hdr[3];
    model_t *m = calloc(1, sizeof(*m));
    bool got_magic = get(f, magic, 8);
    bool ok = got_magic && memcmp(magic, MAGIC, 8) == 0 && get(f, hdr, sizeof(hdr)) && hdr[0] == MODEL_BITS &&
              hdr[1] == MODEL_NB_BITS && hdr[2] >= 2 && hdr[2] <= MODEL_MAX_CLASSES;
    if (ok) {
        m->nclasses = (int)hdr[2];
        size_t k = (size_t)m->nclasses, fk = k * sizeof(float);
        for (size_t i = 0; i < k && ok; i++) {
            ok = get(f, m->classes[i], 32);
            m->classes[i][31] = '\0';
        }
        m->idf = malloc(MODEL_DIM * sizeof(float));
        m->code = malloc(MODEL_DIM * k);
        m->nb_code = malloc(MODEL_NB_DIM * k);
        float platt[2];
        ok = ok && get(f, m->bias, fk) && get(f, m->idf, MODEL_DIM * sizeof(float)) && get(f, m->code, MODEL_DIM * k) &&
             get(f, m->nb_bias, fk) && get(f, m->nb_code, MODEL_NB_DIM * k) && get(f, m->mu[0], fk) &&
             get(f, m->mu[1], fk) && get(f, m->sd[0], fk) && get(f, m->sd[1], fk);
        for (size_t i = 0; i < k && ok; i++)
            ok = get(f, m->value[i], sizeof(m->value[i])) && get(f, m->nb_value[i], sizeof(m->nb_value[i]));
        for (size_t i = 0; i < k && ok; i++)
            ok = get(f, m->stack_w[i], 2 * fk);
        ok = ok && get(f, m->stack_b, fk) && get(f, platt, sizeof(platt));
        m->platt_a = platt[0], m->platt_b = platt[1];
        for (size_t i = 0; i < k && ok; i++)
            ok = m->sd[0][i] > 0 && m->sd[1][i] > 0;
    }
    gzclose(f);
    if (!ok) {
        /* An older or newer dispatchd's model is named as such. */
        if (got_magic && memcmp(magic, "DDLM", 4) == 0 && memcmp(magic, MAGIC, 8) != 0)
            snprintf(err, errlen, "%s is a dispatchd model of format %s; this dispatchd reads %s (retrain it with "
                     "`dispatchd train`)", path, magic, MAGIC);
        else
            snprintf(err, errlen, "%s is not a dispatchd model (format %s, %d and %d bits)", path, MAGIC, MODEL_BITS,
                     MODEL_NB_BITS);
        model_free(m);
        return NULL;
    }
    return m;
}

void model_free(model_t *m)
{
    if (m == NULL)
        return;
    free(m->idf);
    free(m->code);
    free(m->nb_code);
    free(m);
}
