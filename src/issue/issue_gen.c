/*
 * issue_gen.c -- see issue_gen.h.
 */
#include "issue_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static const struct {
    const char *title, *body;
} TEMPLATES[] = {
    {"Crash when %s is %s", "Steps to reproduce: open %s and make it %s. Expected: it works. Actual: the app "
                            "crashes with an exception in the main loop. "},
    {"%s returns wrong result after upgrade (%s)", "Since the last release %s gives an incorrect value when %s. "
                                                   "This is a regression from the previous version. "},
    {"Add support for %s in the CLI when %s", "It would be nice to allow %s from the command line, even when %s. "
                                              "Proposal: a new flag with a sensible default. "},
    {"Feature request: export %s as CSV (%s)", "Please add an option to export %s; today it is only shown when "
                                               "%s. Other tools do this already. "},
    {"How do I configure %s?", "I read the docs but I am not sure how to set up %s. Is it possible to use it in "
                               "%s mode? "},
    {"Document how %s behaves when %s", "The documentation does not say what %s does when %s. An example "
                                        "would help new users. "},
};
static const char *const THINGS[] = {"the settings page", "the API client", "the database pool", "login",
                                     "the build", "the search index", "notifications", "the dashboard",
                                     "file upload", "the cache"};
static const char *const STATES[] = {"empty", "offline", "very large", "read-only", "misconfigured", "busy"};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;   /* xorshift64 */
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

json_t *issue_gen(uint64_t *rng, long long id, long number, int body_bytes)
{
    size_t t = next(rng) % N(TEMPLATES);
    const char *thing = THINGS[next(rng) % N(THINGS)], *state = STATES[next(rng) % N(STATES)];
    char title[256];
    snprintf(title, sizeof(title), TEMPLATES[t].title, thing, state);
    strbuf_t body;
    sb_init(&body);
    do
        sb_printf(&body, TEMPLATES[t].body, thing, state);
    while (body_bytes > 0 && body.len < (size_t)body_bytes);
    if (body_bytes > 0 && body.len > (size_t)body_bytes)
        body.len = (size_t)body_bytes;
    char stamp[32], url[96], login[32];
    snprintf(login, sizeof(login), "user%ld", number % 97);
    long minutes = number % (60L * 24 * 365);
    snprintf(stamp, sizeof(stamp), "2024-%02ld-%02ldT%02ld:%02ld:00Z", 1 + minutes / (60 * 24 * 31) % 12,
             1 + minutes / (60 * 24) % 28, minutes / 60 % 24, minutes % 60);
    snprintf(url, sizeof(url), "https://github.com/example/repo/issues/%ld", number);
    json_t *issue = json_pack("{s:I, s:I, s:s, s:s%, s:s, s:[], s:[], s:{s:I, s:s}, s:s, s:s, s:n, s:s}", "id",
                              (json_int_t)id, "number", (json_int_t)number, "title", title,
                              "body", body.data, body.len, "state", "open", "labels", "assignees", "user", "id",
                              (json_int_t)(1000 + number % 97), "login", login, "created_at", stamp,
                              "updated_at", stamp, "closed_at", "html_url", url);
    sb_free(&body);
    return issue;
}

int issue_gen_body_bytes(uint64_t *rng)
{
    /* Quantiles of the real lengths, linearly between them. */
    static const struct {
        double q;
        int bytes;
    } AT[] = {{0, 60}, {0.10, 258}, {0.25, 554}, {0.50, 1076}, {0.75, 2142}, {0.90, 3670}, {0.99, 8000}, {1, 8000}};
    double u = (double)(next(rng) >> 11) / (double)(1ULL << 53);
    size_t k = 1;
    while (k < N(AT) - 1 && u > AT[k].q)
        k++;
    double f = (u - AT[k - 1].q) / (AT[k].q - AT[k - 1].q);
    return AT[k - 1].bytes + (int)(f * (AT[k].bytes - AT[k - 1].bytes));
}
