/*
 * llm_transport.c -- see llm_transport.h.
 */
#include "llm_transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IO_TAG 1   /* the tags of the transport's watches: IO_TAG and IO_TAG + 1 */

static const char *SYSTEM_PROMPT =
    "You triage GitHub issues. Answer with one JSON object and nothing else, with these fields: "
    "\"category\": one of bug, feature_request, enhancement, documentation, question, security; "
    "\"priority\": one of low, medium, high, critical; \"severity\": one of low, medium, high, critical; "
    "\"estimated_effort\": one of small, medium, large; \"component\": the affected area in a few words; "
    "\"confidence\": a number from 0 to 1; \"tags\": up to 8 short strings; \"summary\": one sentence; "
    "\"reasoning\": one or two sentences; \"sentiment\": one of positive, neutral, negative.";

struct llm_transport {
    http_fetch_t *fetch;
    const config_t *cfg;
    struct curl_slist *headers;   /* the same for every request */
    char *url;
};

bool llm_transport_io(llm_transport_t *t, const rt_io_msg_t *io)
{
    return http_fetch_io(t->fetch, io);
}

llm_exchange_t *llm_transport_start(llm_transport_t *t, const char *body, strbuf_t *response, void *call)
{
    http_request_t req = {.url = t->url, .headers = t->headers, .post_body = body,
                          .timeout_ms = (long)t->cfg->llm_timeout_ms, .response = response, .call = call};
    return http_fetch_start(t->fetch, &req);
}

void llm_transport_abandon(llm_transport_t *t, llm_exchange_t *x)
{
    http_fetch_abandon(t->fetch, x);
}

llm_transport_t *llm_transport_new(rt_actor_t *self, const config_t *cfg, llm_done_fn done, void *ctx)
{
    llm_transport_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    t->cfg = cfg;
    t->fetch = http_fetch_new(self, IO_TAG, (long)cfg->llm_max_inflight, done, ctx);
    strbuf_t u;
    sb_init(&u);
    const char *base = cfg->openai_base_url;
    size_t bl = strlen(base);
    sb_printf(&u, "%.*s/chat/completions", (int)(bl > 0 && base[bl - 1] == '/' ? bl - 1 : bl), base);
    t->url = u.data;
    t->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (cfg->openai_api_key != NULL && cfg->openai_api_key[0] && t->headers != NULL) {
        strbuf_t auth;
        sb_init(&auth);
        sb_printf(&auth, "Authorization: Bearer %s", cfg->openai_api_key);
        t->headers = curl_slist_append(t->headers, auth.data);
        sb_free(&auth);
    }
    if (t->headers == NULL)
        abort();
    return t;
}

void llm_transport_free(llm_transport_t *t)
{
    if (t == NULL)
        return;
    http_fetch_free(t->fetch);
    curl_slist_free_all(t->headers);
    free(t->url);
    free(t);
}

/* The user message: title, labels and the body cut to body_chars at a
 * character boundary. */
static char *user_message(const config_t *cfg, const issue_event_t *e)
{
    const char *body = e->comment_body ? e->comment_body : e->body ? e->body : "";
    size_t max = (size_t)cfg->llm_body_chars, len = strlen(body);
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)body[len] & 0xC0) == 0x80)
            len--;
    }
    strbuf_t b;
    sb_init(&b);
    sb_printf(&b, "Repository: %s/%s\nTitle: %s\nLabels:", e->owner ? e->owner : "", e->repo ? e->repo : "",
              e->title ? e->title : "");
    for (int i = 0; i < e->nlabels; i++)
        sb_printf(&b, " %s", e->labels[i]);
    sb_puts(&b, "\n\nBody:\n");
    sb_append(&b, body, len);
    return b.data;
}

char *llm_request_json(const config_t *cfg, const issue_event_t *e, const char *bad, const char *why)
{
    char *user = user_message(cfg, e);
    json_t *msgs = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", SYSTEM_PROMPT, "role", "user",
                             "content", user);
    free(user);
    if (bad != NULL) {
        char fix[512];
        snprintf(fix, sizeof(fix),
                 "That answer was not valid: %s. Reply again with only the JSON object, every field present and "
                 "only the allowed values.", why);
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant", "content", bad));
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", fix));
    }
    json_t *req = json_pack("{s:s, s:o, s:i, s:{s:s}}", "model", cfg->openai_model, "messages", msgs, "temperature",
                            0, "response_format", "type", "json_object");
    char *out = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return out;
}
