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

/* 0003: the NBSVM member, standardized ensemble, Platt confidence. */
#define MAGIC "DDLM0003"

static void linear(const float *w, const float *bias, int nclasses, const model_vec_t *x, double *s)
{
    for (int k = 0; k < nclasses; k++)
        s[k] = bias[k];
    for (size_t i = 0; i < x->n; i++) {
        const float *wi = &w[(size_t)x->idx[i] * (size_t)nclasses];
        for (int k = 0; k < nclasses; k++)
            s[k] += (double)x->val[i] * wi[k];
    }
}

void model_svm_scores(const model_t *m, const model_vec_t *x, double *s)
{
    linear(m->w, m->bias, m->nclasses, x, s);
}

void model_nb_scores(const model_t *m, const model_vec_t *x, double *s)
{
    linear(m->nb_w, m->nb_bias, m->nclasses, x, s);
}

void model_combine(const model_t *m, const double *s1, const double *s2, double *s)
{
    for (int k = 0; k < m->nclasses; k++)
        s[k] = (s1[k] - m->mu[0][k]) / m->sd[0][k] + (s2[k] - m->mu[1][k]) / m->sd[1][k];
}

int model_best(const model_t *m, const double *s, double *confidence)
{
    int best = 0;
    for (int k = 1; k < m->nclasses; k++)
        if (s[k] > s[best])
            best = k;
    double second = -INFINITY;
    for (int k = 0; k < m->nclasses; k++)
        if (k != best && s[k] > second)
            second = s[k];
    if (confidence)
        *confidence = 1.0 / (1.0 + exp(-(m->platt_a * (s[best] - second) + m->platt_b)));
    return best;
}

void model_scores(const model_t *m, model_vec_t *scratch, const char *title, const char *body, double *s)
{
    double s1[MODEL_MAX_CLASSES], s2[MODEL_MAX_CLASSES];
    const char *clean = model_clean_body(scratch, body);   /* once for both */
    model_features_clean(scratch, title, clean, m->idf);
    model_svm_scores(m, scratch, s1);
    model_nb_features_clean(scratch, title, clean);
    model_nb_scores(m, scratch, s2);
    model_combine(m, s1, s2, s);
}

int model_predict(const model_t *m, model_vec_t *scratch, const char *title, const char *body, double *confidence)
{
    double s[MODEL_MAX_CLASSES];
    model_scores(m, scratch, title, body, s);
    return model_best(m, s, confidence);
}

/* Format (gzip): MAGIC, u32 bits, u32 nb_bits, u32 nclasses, nclasses x
 * char[32] names, float bias[nclasses], float idf[dim], float
 * w[dim][nclasses], float nb_bias[nclasses], float nb_w[nb_dim][nclasses],
 * float mu[2][nclasses], float sd[2][nclasses], float platt[2]; little
 * endian, as the machines it runs on. */
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
    ok = ok && put(f, m->bias, fk) && put(f, m->idf, MODEL_DIM * sizeof(float)) && put(f, m->w, MODEL_DIM * fk) &&
         put(f, m->nb_bias, fk) && put(f, m->nb_w, MODEL_NB_DIM * fk) && put(f, m->mu[0], fk) &&
         put(f, m->mu[1], fk) && put(f, m->sd[0], fk) && put(f, m->sd[1], fk) && put(f, platt, sizeof(platt));
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
        m->w = malloc(MODEL_DIM * fk);
        m->nb_w = malloc(MODEL_NB_DIM * fk);
        float platt[2];
        ok = ok && get(f, m->bias, fk) && get(f, m->idf, MODEL_DIM * sizeof(float)) && get(f, m->w, MODEL_DIM * fk) &&
             get(f, m->nb_bias, fk) && get(f, m->nb_w, MODEL_NB_DIM * fk) && get(f, m->mu[0], fk) &&
             get(f, m->mu[1], fk) && get(f, m->sd[0], fk) && get(f, m->sd[1], fk) && get(f, platt, sizeof(platt));
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
    free(m->w);
    free(m->nb_w);
    free(m);
}
