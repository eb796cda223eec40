/* model_internal.h -- what the local model's files share (model.h is the
 * face): hashing, and each member's scores of a feature vector. */
#ifndef DISPATCHD_MODEL_INTERNAL_H
#define DISPATCHD_MODEL_INTERNAL_H

#include <stdint.h>

#include "model.h"

/* Member 2's SVM cost: 5-fold CV (3 seeds) of the ensemble 0.776 at 0.1,
 * 0.782 at 0.3, 0.787 at 1, 0.786 at 3 and 0.785 at 10 (the spread
 * between seeds is about 0.01). */
#define MODEL_NB_C 1.0

uint64_t model_mix(uint64_t h);   /* splitmix64's finaliser */

/* The members' features from a body model_clean_body has read already
 * (it may be v->text). */
void model_features_clean(model_vec_t *v, const char *title, const char *body, const float *idf);
void model_nb_features_clean(model_vec_t *v, const char *title, const char *body);

/* Member 1's scores of x (model_features with m->idf), and member 2's
 * (model_nb_features), per class. */
void model_svm_scores(const model_t *m, const model_vec_t *x, double *s);
void model_nb_scores(const model_t *m, const model_vec_t *x, double *s);

/* The ensemble's score from both members' raw ones, and the calibrated
 * confidence of the best class from the ensemble's scores. */
void model_combine(const model_t *m, const double *s1, const double *s2, double *s);
int model_best(const model_t *m, const double *s, double *confidence);

#endif
