/*
 * local.h -- the `local` provider: the trained model (model.h) decides the
 * category among bug, feature_request and question (the NLBSE'24 labels
 * bug, feature and question), unless a label names one; the rules'
 * heuristics fill priority, severity, effort and component for that
 * category. Confidence is the model's probability (0.8 or more for a label).
 */
#ifndef DISPATCHD_LOCAL_H
#define DISPATCHD_LOCAL_H

#include "classification.h"
#include "model.h"

void classify_local(const model_t *m, model_vec_t *scratch, const cls_input_t *in, classification_t *out);

#endif
