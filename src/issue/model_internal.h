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

/* The members' features of an issue whose body model_clean_body has read
 * already (it may be v->text). */
void model_features_clean(model_vec_t *v, const model_issue_t *is, const float *idf);
void model_nb_features_clean(model_vec_t *v, const model_issue_t *is);

/* Member 1's scores of x (model_features with m->idf), and member 2's
 * (model_nb_features), per class. */
void model_svm_scores(const model_t *m, const model_vec_t *x, double *s);
void model_nb_scores(const model_t *m, const model_vec_t *x, double *s);
/* A member's weights w ([dim][nclasses]) as codes, a byte each instead
 * of a float, and per class each code's weight (values[nclasses][256]):
 * both members' tables (1.7 MB at 2^16 and 2^19 buckets and three classes,
 * 7.1 MB as floats) then stay in a core's cache; 5-fold CV unchanged. */
void model_code_weights(const float *w, size_t dim, int nclasses, uint8_t *code, float (*values)[256]);

/* Both members' raw scores standardized by their out-of-fold mean and
 * spread (z: member 1's classes, then member 2's); the ensemble's score
 * from the raw ones; the calibrated confidence of the best class from the
 * ensemble's scores. */
void model_standardize(const model_t *m, const double *s1, const double *s2, double *z);
void model_combine(const model_t *m, const double *s1, const double *s2, double *s);
/* The best class of the ensemble's scores, and its margin over the second
 * (what the confidence's sigmoid reads). */
int model_margin(const model_t *m, const double *s, double *margin);
int model_best(const model_t *m, const double *s, double *confidence);

#endif
