/*
 * rules.c -- the rule-based classifier: labels first, then keywords in the
 * title (weighted double) and the start of the body. Always available, no
 * training, ~microseconds per issue. Confidence is 0.8 when a label decided,
 * 0.6 for keywords (the original service's keyword fallback), 0.4 when
 * nothing matched.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classification.h"

#define BODY_SCAN_BYTES 8192

typedef struct rule {
    const char *word;
    const char *category;
} rule_t;

static const rule_t KEYWORDS[] = {
    {"vulnerab", "security"}, {"cve-", "security"}, {"xss", "security"}, {"csrf", "security"},
    {"injection", "security"}, {"exploit", "security"}, {"security", "security"},
    {"crash", "bug"}, {"error", "bug"}, {"exception", "bug"}, {"bug", "bug"}, {"broken", "bug"},
    {"fail", "bug"}, {"traceback", "bug"}, {"segfault", "bug"}, {"not working", "bug"},
    {"doesn't work", "bug"}, {"does not work", "bug"}, {"regression", "bug"}, {"wrong", "bug"},
    {"unexpected", "bug"}, {"incorrect", "bug"},
    {"how to", "question"}, {"how do", "question"}, {"how can", "question"}, {"question", "question"},
    {"is it possible", "question"}, {"why does", "question"}, {"what is", "question"},
    {"documentation", "documentation"}, {"docs", "documentation"}, {"readme", "documentation"},
    {"typo", "documentation"},
    {"feature request", "feature_request"}, {"add support", "feature_request"},
    {"would be nice", "feature_request"}, {"proposal", "feature_request"},
    {"support for", "feature_request"}, {"feature", "feature_request"}, {"allow", "feature_request"},
    {"improve", "enhancement"}, {"enhance", "enhancement"}, {"performance", "enhancement"},
    {"faster", "enhancement"}, {"optimiz", "enhancement"}, {"refactor", "enhancement"},
};

static const char *const CATEGORIES[] = {"bug", "feature_request", "enhancement", "documentation",
                                         "question", "security"};
#define NCAT 6

static int cat_index(const char *c)
{
    for (int i = 0; i < NCAT; i++)
        if (strcmp(CATEGORIES[i], c) == 0)
            return i;
    return 0;
}

/* Short words only count as whole words ("ui" is not "build"): they are
 * written with the spaces around them (the text is space-padded). */
static const struct { const char *word; const char *component; } COMPONENTS[] = {
    {" api ", "api"}, {"endpoint", "api"}, {" ui ", "ui"}, {"button", "ui"}, {" css ", "ui"},
    {"frontend", "ui"}, {"database", "database"}, {" sql ", "database"}, {"postgres", "database"},
    {"login", "auth"}, {"auth", "auth"}, {"token", "auth"}, {"build", "build"}, {"compile", "build"},
    {"cmake", "build"}, {" ci ", "build"}, {"docs", "docs"}, {"documentation", "docs"},
    {"performance", "performance"}, {"slow", "performance"}, {"memory", "performance"},
    {"network", "network"}, {"http", "network"}, {" cli ", "cli"}, {"command line", "cli"},
};

#define TITLE_SCAN_BYTES 1024

/* s lowercased and space-padded into out (max + 3 bytes). */
static char *lowercase(char *out, const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max) : 0;
    out[0] = ' ';
    for (size_t i = 0; i < n; i++)
        out[i + 1] = (char)tolower((unsigned char)s[i]);
    out[n + 1] = ' ';
    out[n + 2] = '\0';
    return out;
}

static const char *label_category(const char *name)
{
    char l[64];
    size_t i = 0;
    for (; name[i] && i < sizeof(l) - 1; i++)
        l[i] = (char)tolower((unsigned char)name[i]);
    l[i] = '\0';
    if (strstr(l, "security") || strstr(l, "vulnerab"))
        return "security";
    if (strstr(l, "bug") || strstr(l, "defect") || strstr(l, "regression"))
        return "bug";
    if (strstr(l, "doc"))
        return "documentation";
    if (strstr(l, "question") || strstr(l, "support") || strstr(l, "help"))
        return "question";
    if (strstr(l, "feature") || strstr(l, "request"))
        return "feature_request";
    if (strstr(l, "enhancement") || strstr(l, "improvement"))
        return "enhancement";
    return NULL;
}

const char *cls_label_category(const char *const *labels, int n)
{
    for (int i = 0; i < n; i++) {
        const char *c = label_category(labels[i]);
        if (c != NULL)
            return c;
    }
    return NULL;
}

/* Priority, severity, effort, component, tags and summary for the category
 * already in out; title and body lowercased and space-padded. */
static void details(const cls_input_t *in, const char *title, const char *body, classification_t *out)
{
    bool critical = strstr(title, "data loss") || strstr(body, "data loss") || strstr(title, "outage") ||
                    strstr(title, "production down") || strstr(title, "critical") ||
                    (strcmp(out->category, "security") == 0 && (strstr(body, "exploit") || strstr(title, "rce")));
    bool high = strstr(title, "crash") || strstr(title, "regression") || strstr(title, "urgent") ||
                strstr(body, "segfault") || strcmp(out->category, "security") == 0;
    bool low = strcmp(out->category, "documentation") == 0 || strcmp(out->category, "question") == 0 ||
               strstr(title, "typo") || strstr(title, "minor");
    const char *level = critical ? "critical" : high ? "high" : low ? "low" : "medium";
    snprintf(out->priority, sizeof(out->priority), "%s", level);
    snprintf(out->severity, sizeof(out->severity), "%s", level);

    size_t body_len = in->body ? strlen(in->body) : 0;
    bool has_trace = strstr(body, "traceback") || strstr(body, "stack trace") || strstr(body, "    at ");
    const char *effort = body_len > 4000 || has_trace ? "large" : body_len > 800 ? "medium" : "small";
    if (strcmp(out->category, "documentation") == 0 || strcmp(out->category, "question") == 0)
        effort = "small";
    snprintf(out->estimated_effort, sizeof(out->estimated_effort), "%s", effort);

    snprintf(out->component, sizeof(out->component), "general");
    for (size_t k = 0; k < sizeof(COMPONENTS) / sizeof(COMPONENTS[0]); k++) {
        const char *w = COMPONENTS[k].word;
        if (strstr(title, w) || strstr(body, w)) {
            snprintf(out->component, sizeof(out->component), "%s", COMPONENTS[k].component);
            cls_add_tag(out, COMPONENTS[k].component);
            break;
        }
    }
    cls_copy_text(out->summary, sizeof(out->summary), in->title ? in->title : "");
}

void classify_details(const cls_input_t *in, classification_t *out)
{
    char title[TITLE_SCAN_BYTES + 3], body[BODY_SCAN_BYTES + 3];
    details(in, lowercase(title, in->title, TITLE_SCAN_BYTES), lowercase(body, in->body, BODY_SCAN_BYTES), out);
}

void classify_rules(const cls_input_t *in, classification_t *out)
{
    memset(out, 0, sizeof(*out));
    char title_buf[TITLE_SCAN_BYTES + 3], body_buf[BODY_SCAN_BYTES + 3];
    const char *title = lowercase(title_buf, in->title, TITLE_SCAN_BYTES);
    const char *body = lowercase(body_buf, in->body, BODY_SCAN_BYTES);
    int score[NCAT] = {0};
    const char *why = "no rule matched";
    char reason[256] = {0};

    const char *by_label = cls_label_category(in->labels, in->nlabels);
    for (size_t k = 0; k < sizeof(KEYWORDS) / sizeof(KEYWORDS[0]); k++) {
        int s = (strstr(title, KEYWORDS[k].word) ? 2 : 0) + (strstr(body, KEYWORDS[k].word) ? 1 : 0);
        if (s > 0) {
            score[cat_index(KEYWORDS[k].category)] += s;
            cls_add_tag(out, KEYWORDS[k].category);
        }
    }
    if (strchr(title, '?'))
        score[cat_index("question")] += 2;

    int best = -1;
    for (int i = 0; i < NCAT; i++)
        if (score[i] > 0 && (best < 0 || score[i] > score[best]))
            best = i;

    if (by_label != NULL) {
        snprintf(out->category, sizeof(out->category), "%s", by_label);
        out->confidence = 0.8;
        why = "label";
    } else if (best >= 0) {
        snprintf(out->category, sizeof(out->category), "%s", CATEGORIES[best]);
        out->confidence = 0.6;
        why = "keywords";
    } else {
        snprintf(out->category, sizeof(out->category), "question");
        out->confidence = 0.4;
    }
    details(in, title, body, out);
    snprintf(reason, sizeof(reason), "rules: category by %s; priority by keywords", why);
    cls_copy_text(out->reasoning, sizeof(out->reasoning), reason);
    snprintf(out->model_version, sizeof(out->model_version), "rules-1");
    snprintf(out->provider, sizeof(out->provider), "rules");
    out->cost_usd = 0;
}
