/* model_features.c -- what the local model sees of an issue (model.h). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_internal.h"

uint64_t model_mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static uint64_t hash_bytes(uint64_t seed, const unsigned char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Word characters as in \w (bytes of multi-byte UTF-8 count as letters). */
static bool word_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* The mark of a repository's terms: its name's hash, case folded as
 * GitHub folds it; 0 when there is none. */
static uint64_t repo_salt(const char *repo)
{
    if (repo == NULL || repo[0] == '\0')
        return 0;
    uint64_t h = 1469598103934665603ULL ^ 0xa000;
    for (const unsigned char *s = (const unsigned char *)repo; *s; s++)
        h = (h ^ lower(*s)) * 1099511628211ULL;
    return model_mix(h) | 1;
}

void model_vec_init(model_vec_t *v)
{
    memset(v, 0, sizeof(*v));
    v->acc = calloc(MODEL_DIM, sizeof(*v->acc));
    if (v->acc == NULL)
        abort();
}

void model_vec_free(model_vec_t *v)
{
    free(v->idx);
    free(v->val);
    free(v->acc);
    free(v->touched);
    free(v->text);
    free(v->seen);
    memset(v, 0, sizeof(*v));
}

static void count_bucket(model_vec_t *v, uint64_t h)
{
    unsigned b = (unsigned)(model_mix(h) & (MODEL_DIM - 1));
    if (v->acc[b] == 0) {
        if (v->ntouched == v->captouched) {
            v->captouched = v->captouched ? v->captouched * 2 : 1024;
            v->touched = realloc(v->touched, v->captouched * sizeof(*v->touched));
            if (v->touched == NULL)
                abort();
        }
        v->touched[v->ntouched++] = b;
    }
    if (v->acc[b] < UINT16_MAX)
        v->acc[b]++;
}

/* A term, and while a block is joined with the repository (v->salt) the
 * term as that repository's. */
static void count(model_vec_t *v, uint64_t h)
{
    count_bucket(v, h);
    if (v->salt != 0)
        count_bucket(v, h ^ v->salt);
}

/* Moves the block's counts into the vector: 1 + ln(count), times idf,
 * scaled to length `weight`; leaves the scratch zeroed. */
static void flush_block(model_vec_t *v, const float *idf, double weight)
{
    if (v->n + v->ntouched > v->cap) {
        v->cap = (v->n + v->ntouched) * 2;
        v->idx = realloc(v->idx, v->cap * sizeof(*v->idx));
        v->val = realloc(v->val, v->cap * sizeof(*v->val));
        if (v->idx == NULL || v->val == NULL)
            abort();
    }
    double norm = 0;
    size_t first = v->n;
    for (size_t i = 0; i < v->ntouched; i++) {
        unsigned b = v->touched[i];
        float x = v->acc[b] == 1 ? 1.0f : 1.0f + logf((float)v->acc[b]);   /* most terms occur once */
        if (idf != NULL)
            x *= idf[b];
        v->acc[b] = 0;
        v->idx[v->n] = b;
        v->val[v->n++] = x;
        norm += (double)x * x;
    }
    v->ntouched = 0;
    if (norm > 0) {
        float inv = (float)(weight / sqrt(norm));
        for (size_t i = first; i < v->n; i++)
            v->val[i] *= inv;
    }
}

/* Words of two or more word characters, and pairs of neighbours. */
static void words(model_vec_t *v, uint64_t seed, const char *text, size_t limit)
{
    const unsigned char *s = (const unsigned char *)text;
    unsigned char tok[64];
    uint64_t prev = 0;
    bool have_prev = false;
    size_t i = 0;
    while (i < limit && s[i]) {
        while (i < limit && s[i] && !word_char(s[i]))
            i++;
        size_t n = 0;
        while (i < limit && s[i] && word_char(s[i])) {
            if (n < sizeof(tok))
                tok[n++] = lower(s[i]);
            i++;
        }
        if (n < 2)
            continue;
        uint64_t h = hash_bytes(seed, tok, n);
        count(v, h);
        if (have_prev)
            count(v, model_mix(prev) ^ (h * 31) ^ 0x9e3779b97f4a7c15ULL);
        prev = h;
        have_prev = true;
    }
}

/* Character 1-4-grams inside each whitespace-separated word, padded with
 * a space at both ends. */
static bool not_space(unsigned char c)
{
    return !(c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

/* Character lo..hi-grams of each word of text (its first `limit` bytes),
 * lowercased and padded with a space at both ends; a word is a run of
 * bytes in_word accepts. Each n-gram's hash goes to add. */
/* Inlined into each caller, so that in_word and add are known there and
 * inlined in turn: called through the pointers, the calls per n-gram were
 * a quarter of the model's time. */
__attribute__((always_inline)) static inline void char_grams(model_vec_t *v, uint64_t seed, const char *text,
                                                             size_t limit, bool (*in_word)(unsigned char),
                       size_t lo, size_t hi, void (*add)(model_vec_t *, uint64_t))
{
    const unsigned char *s = (const unsigned char *)text;
    unsigned char w[66];
    size_t i = 0;
    while (i < limit && s[i]) {
        while (i < limit && s[i] && !in_word(s[i]))
            i++;
        size_t n = 0;
        w[n++] = ' ';
        while (i < limit && s[i] && in_word(s[i])) {
            if (n < sizeof(w) - 1)
                w[n++] = lower(s[i]);
            i++;
        }
        if (n == 1)
            continue;
        w[n++] = ' ';
        for (size_t len = lo; len <= hi; len++)
            for (size_t k = 0; k + len <= n; k++)
                add(v, hash_bytes(seed + len, w + k, len));
    }
}

/* Member 1: character 1-4-grams inside each whitespace-separated word. */
static void chars(model_vec_t *v, uint64_t seed, const char *text, size_t limit)
{
    char_grams(v, seed, text, limit, not_space, 1, 4, count);
}

/* The words of the body's markdown headings and bold lines: the fields of
 * the projects' issue templates, which differ between bug reports, feature
 * requests and questions. */
static void headings(model_vec_t *v, uint64_t seed, const char *body, size_t limit)
{
    size_t i = 0;
    while (i < limit && body[i]) {
        size_t k = i;
        while (k < limit && (body[k] == ' ' || body[k] == '\t'))
            k++;
        size_t end = k;
        while (end < limit && body[end] && body[end] != '\n')
            end++;
        if (k < end && (body[k] == '#' || (k + 1 < end && body[k] == '*' && body[k + 1] == '*')))
            words(v, seed, body + k, end - k);
        i = end + 1;
        if (end >= limit || !body[end])
            break;
    }
}

static bool fence_line(const char *line, const char *end)
{
    while (line < end && (*line == ' ' || *line == '\t'))
        line++;
    return end - line >= 3 && (strncmp(line, "```", 3) == 0 || strncmp(line, "~~~", 3) == 0);
}

const char *model_clean_body(model_vec_t *v, const char *body)
{
    if (v->textcap < MODEL_BODY_CLEAN + 1) {
        v->textcap = MODEL_BODY_CLEAN + 1;
        v->text = realloc(v->text, v->textcap);
        if (v->text == NULL)
            abort();
    }
    static const char mark[] = " " MODEL_CODE_MARK "\n";
    size_t n = 0;
    bool code = false, comment = false;
    const char *p = body ? body : "";
    while (*p && n < MODEL_BODY_CLEAN) {
        const char *end = strchr(p, '\n');
        if (end == NULL)
            end = p + strlen(p);
        if (!comment && fence_line(p, end)) {
            code = !code;
            if (code && n + sizeof(mark) - 1 < MODEL_BODY_CLEAN) {
                memcpy(v->text + n, mark, sizeof(mark) - 1);
                n += sizeof(mark) - 1;
            }
        } else if (!code) {
            for (const char *q = p; q < end && n < MODEL_BODY_CLEAN;) {
                if (comment) {
                    if (*q == '-' && strncmp(q, "-->", 3) == 0) {
                        comment = false;
                        q += 3;
                        v->text[n++] = ' ';
                    } else {
                        q++;
                    }
                    continue;
                }
                if (*q == '<' && strncmp(q, "<!--", 4) == 0) {
                    comment = true;
                    q += 4;
                    continue;
                }
                if (*q == 'h' && (strncmp(q, "http://", 7) == 0 || strncmp(q, "https://", 8) == 0)) {
                    while (q < end && *q != ' ' && *q != '\t' && *q != ')' && *q != '>' && *q != ']')
                        q++;
                    v->text[n++] = ' ';
                    continue;
                }
                v->text[n++] = *q++;
            }
            if (n < MODEL_BODY_CLEAN)
                v->text[n++] = '\n';
        }
        p = *end ? end + 1 : end;
    }
    v->text[n] = '\0';
    return v->text;
}

/* Each block is scaled to unit length, the body's words to twice that:
 * 5-fold CV macro-F1 on the NLBSE'24 file 0.775 with all blocks equal,
 * 0.787 so (1.5: 0.781, 2.5: 0.783; weighting the title instead lowered
 * it). The heading block added 0.007 (0.005 if it stopped at 4,000
 * bytes). */
#define BODY_WORDS_WEIGHT 2.0

void model_features(model_vec_t *v, const model_issue_t *is, const float *idf)
{
    model_issue_t clean = *is;
    clean.body = model_clean_body(v, is->body);
    model_features_clean(v, &clean, idf);
}

/* The words and headings are joined with the repository, the character
 * n-grams are not (5-fold CV, 3 seeds: 0.797 joining all of member 1's
 * blocks, 0.798 so; 0.787 joining none). Which bucket a term lands in
 * moves that figure by up to 0.005, so each choice here was measured over
 * several hashings of the repository's name, not one. */
void model_features_clean(model_vec_t *v, const model_issue_t *is, const float *idf)
{
    const char *title = is->title ? is->title : "", *body = is->body ? is->body : "";
    uint64_t salt = repo_salt(is->repo);
    v->n = 0;
    v->salt = salt;
    words(v, 0x1000, title, SIZE_MAX);
    flush_block(v, idf, 1.0);
    words(v, 0x2000, body, MODEL_BODY_WORDS);
    flush_block(v, idf, BODY_WORDS_WEIGHT);
    v->salt = 0;
    chars(v, 0x3000, title, SIZE_MAX);
    flush_block(v, idf, 1.0);
    chars(v, 0x4000, body, MODEL_BODY_CHARS);
    flush_block(v, idf, 1.0);
    v->salt = salt;
    headings(v, 0x5000, body, MODEL_BODY_HEADINGS);
    flush_block(v, idf, 1.0);
    v->salt = 0;
}


/* Member 2: the distinct buckets of word 1-3-grams (title and body apart)
 * and character 2-5-grams within words (title, and the body's first
 * MODEL_NB_CHARS bytes), each also joined with the repository. Binary:
 * each bucket once, in the order first seen (a bit per bucket in v->seen,
 * cleared again by model_nb_features_clean). */
static void nb_count_bucket(model_vec_t *v, uint64_t h)
{
    unsigned b = (unsigned)(model_mix(h) & (MODEL_NB_DIM - 1));
    uint64_t bit = 1ULL << (b & 63);
    if (v->seen[b >> 6] & bit)
        return;
    v->seen[b >> 6] |= bit;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4096;
        v->idx = realloc(v->idx, v->cap * sizeof(*v->idx));
        v->val = realloc(v->val, v->cap * sizeof(*v->val));
        if (v->idx == NULL || v->val == NULL)
            abort();
    }
    v->idx[v->n++] = b;
}

/* As count. */
static void nb_count(model_vec_t *v, uint64_t h)
{
    nb_count_bucket(v, h);
    if (v->salt != 0)
        nb_count_bucket(v, h ^ v->salt);
}

static void nb_words(model_vec_t *v, uint64_t seed, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    unsigned char tok[64];
    uint64_t h1 = 0, h2 = 0;   /* the two words before */
    int have = 0;
    size_t i = 0;
    while (s[i]) {
        while (s[i] && !word_char(s[i]))
            i++;
        size_t n = 0;
        while (s[i] && word_char(s[i])) {
            if (n < sizeof(tok))
                tok[n++] = lower(s[i]);
            i++;
        }
        if (n == 0)
            continue;
        uint64_t h = hash_bytes(seed, tok, n);
        nb_count(v, h);
        if (have >= 1)
            nb_count(v, model_mix(h1) ^ (h * 31) ^ 0x9e3779b97f4a7c15ULL);
        if (have >= 2)
            nb_count(v, model_mix(model_mix(h2) ^ h1) ^ (h * 37) ^ 0x7f4a7c159e3779b9ULL);
        h2 = h1, h1 = h;
        have++;
    }
}

static void nb_chars(model_vec_t *v, uint64_t seed, const char *text, size_t limit)
{
    char_grams(v, seed, text, limit, word_char, 2, 5, nb_count);
}

void model_nb_features(model_vec_t *v, const model_issue_t *is)
{
    model_issue_t clean = *is;
    clean.body = model_clean_body(v, is->body);
    model_nb_features_clean(v, &clean);
}

void model_nb_features_clean(model_vec_t *v, const model_issue_t *is)
{
    const char *title = is->title ? is->title : "", *body = is->body ? is->body : "";
    if (v->seen == NULL && (v->seen = calloc(MODEL_NB_DIM / 64, sizeof(uint64_t))) == NULL)
        abort();
    v->n = 0;
    v->salt = repo_salt(is->repo);
    nb_words(v, 0x6000, title);
    nb_words(v, 0x7000, body);
    nb_chars(v, 0x8000, title, SIZE_MAX);
    nb_chars(v, 0x9000, body, MODEL_NB_CHARS);
    v->salt = 0;
    size_t k = v->n;
    for (size_t i = 0; i < k; i++)
        v->seen[v->idx[i] >> 6] = 0;
    float x = k ? (float)(1.0 / sqrt((double)k)) : 0;
    for (size_t i = 0; i < k; i++)
        v->val[i] = x;
}
