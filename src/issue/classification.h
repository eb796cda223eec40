/*
 * classification.h -- the classification of one issue (in enriched events),
 * with every text field already validated: enumerations hold one of their
 * allowed values and free text fits its column.
 */
#ifndef DISPATCHD_CLASSIFICATION_H
#define DISPATCHD_CLASSIFICATION_H

#include <jansson.h>
#include <stdbool.h>

#define CLS_MAX_TAGS 8

typedef struct classification {
    char category[24];        /* bug feature_request enhancement documentation question security */
    char priority[12];        /* low medium high critical */
    char severity[12];        /* low medium high critical */
    char estimated_effort[12];/* small medium large */
    char component[48];
    double confidence;        /* 0..1 */
    char tags[CLS_MAX_TAGS][32];
    int ntags;
    char summary[512];
    char reasoning[512];
    char model_version[64];
    char provider[16];        /* rules local openai */
    double cost_usd;
} classification_t;

bool cls_valid_category(const char *s);
bool cls_valid_level(const char *s);      /* priority and severity */
bool cls_valid_effort(const char *s);
/* Copies src into dst (size n), cut at a UTF-8 character boundary. */
void cls_copy_text(char *dst, size_t n, const char *src);
void cls_add_tag(classification_t *c, const char *tag);

/* The `classification` object of an enriched event, as compact JSON text
 * (malloc'd). */
char *cls_json_text(const classification_t *c);
/* Reads such an object (a stored one, or a model's answer): enumerations
 * must hold allowed values and confidence lie in 0..1, else -1 with what
 * was wrong in err; text is cut to fit. model_version, provider and
 * cost_usd are left as they were. */
int cls_from_json(const json_t *obj, classification_t *out, char *err, size_t errlen);

/* An OpenAI-compatible chat completion's answer. */
typedef struct llm_answer {
    long prompt_tokens, completion_tokens;   /* usage, 0 when not reported */
    char model[64];                          /* "" when not reported */
    char content[2048];                      /* the message content (cut), for a repair request */
} llm_answer_t;

/* Reads a chat completion body: 0 with the classification in out; 1 when
 * the content is there but is not a valid classification; -1 when there is
 * no choices[0].message.content. why says what was wrong. */
int cls_from_llm_response(const char *body, size_t len, classification_t *out, llm_answer_t *answer, char *why,
                          size_t whylen);

/* Input of the classifiers. */
typedef struct cls_input {
    const char *title;
    const char *body;
    const char *const *labels;   /* the labels' names */
    int nlabels;
    const char *repo;         /* "owner/name", or NULL */
} cls_input_t;

/* What an event gives the classifiers: a comment event is classified from
 * the issue's title and the comment. Points into e. */
struct issue_event;
cls_input_t cls_input_of(const struct issue_event *e);

void classify_rules(const cls_input_t *in, classification_t *out);
/* The category a label names ("Type: Bug" -> bug), NULL if none does. */
const char *cls_label_category(const char *const *labels, int n);
/* The rules' heuristics for everything but the category already in out:
 * priority and severity (keywords: crash, regression, data loss, outage;
 * security), effort (body length, stack traces), component (keywords),
 * summary (the title). */
void classify_details(const cls_input_t *in, classification_t *out);

#endif
