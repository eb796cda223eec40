#include "local.h"

#include <stdio.h>
#include <string.h>

/* The model's labels as the classification's categories. */
static const char *category_of(const char *label)
{
    if (strcmp(label, "feature") == 0)
        return "feature_request";
    return cls_valid_category(label) ? label : NULL;
}

void classify_local(const model_t *m, model_vec_t *scratch, const cls_input_t *in, classification_t *out)
{
    memset(out, 0, sizeof(*out));
    double p = 0;
    model_issue_t is = {in->repo, in->title, in->body};
    int k = model_predict(m, scratch, &is, &p);
    const char *by_label = cls_label_category(in->labels, in->nlabels);
    const char *cat = by_label ? by_label : category_of(m->classes[k]);
    snprintf(out->category, sizeof(out->category), "%s", cat ? cat : "question");
    out->confidence = by_label ? (p > 0.8 ? p : 0.8) : p;
    cls_add_tag(out, out->category);
    classify_details(in, out);
    char why[160];
    snprintf(why, sizeof(why), by_label ? "local: category from a label (model said %s, p=%.2f)"
                                        : "local: linear ensemble, %s with p=%.2f (calibrated)", m->classes[k], p);
    cls_copy_text(out->reasoning, sizeof(out->reasoning), why);
    snprintf(out->model_version, sizeof(out->model_version), "local-linear-3");
    snprintf(out->provider, sizeof(out->provider), "local");
    out->cost_usd = 0;
}
