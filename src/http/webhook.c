/*
 * webhook.c -- POST /webhook/github.
 *
 * The signature (X-Hub-Signature-256, HMAC-SHA256 of the body with
 * GITHUB_WEBHOOK_SECRET) is checked in constant time before anything else.
 * `issues` and `issue_comment` deliveries become `issues.raw` events; the
 * answer (202) waits for Kafka's acknowledgement, so a 2xx means the event
 * is durable and anything else makes GitHub deliver again.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "event.h"
#include "pipeline.h"
#include "routes.h"
#include "timefmt.h"
#include "uuid.h"

#define ROUTE "/webhook/github"

static bool header(h2o_req_t *req, const char *name, char *out, size_t outlen)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t n = v.len < outlen - 1 ? v.len : outlen - 1;
    memcpy(out, v.base, n);
    out[n] = '\0';
    return true;
}

static bool signature_ok(const char *secret, h2o_iovec_t body, const char *sig_header)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body.base, body.len, mac, &maclen);
    char expect[7 + 2 * EVP_MAX_MD_SIZE + 1] = "sha256=";
    for (unsigned i = 0; i < maclen; i++)
        snprintf(expect + 7 + 2 * i, 3, "%02x", mac[i]);
    size_t n = strlen(expect);
    return strlen(sig_header) == n && CRYPTO_memcmp(expect, sig_header, n) == 0;
}

int webhook_github(http_app_t *app, h2o_req_t *req)
{
    const config_t *cfg = app->cfg;
    if (cfg->webhook_secret == NULL || cfg->webhook_secret[0] == '\0')
        return http_respond_error(req, ROUTE, 403, "webhooks_disabled", "GITHUB_WEBHOOK_SECRET is not set");
    char sig[160], event[64], delivery[64];
    if (!header(req, "x-hub-signature-256", sig, sizeof(sig)))
        return http_respond_error(req, ROUTE, 401, "missing_signature", "X-Hub-Signature-256 header required");
    if (!signature_ok(cfg->webhook_secret, req->entity, sig))
        return http_respond_error(req, ROUTE, 401, "bad_signature", "X-Hub-Signature-256 does not match the body");
    if (!header(req, "x-github-event", event, sizeof(event)))
        return http_respond_error(req, ROUTE, 400, "missing_event", "X-GitHub-Event header required");
    if (strcmp(event, "ping") == 0)
        return http_respond_json(req, ROUTE, 200, "{\"ok\":true,\"message\":\"pong\"}");
    if (strcmp(event, "issues") != 0 && strcmp(event, "issue_comment") != 0)
        return http_respond_json(req, ROUTE, 202, "{\"accepted\":false,\"message\":\"event type ignored\"}");
    if (app->p == NULL || __atomic_load_n(&app->p->stopping, __ATOMIC_ACQUIRE))
        return http_respond_error(req, ROUTE, 503, "shutting_down", "try again");

    json_error_t je;
    json_t *root = json_loadb(req->entity.base, req->entity.len, 0, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return http_respond_error(req, ROUTE, 400, "bad_payload", "body is not a JSON object");
    }
    char ts[ISO8601_LEN];
    iso8601_now(ts, sizeof(ts));
    json_object_set_new(root, "event_type", json_string(strcmp(event, "issues") == 0 ? "issue" : event));
    json_object_set_new(root, "timestamp", json_string(ts));
    char *value = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t vlen = strlen(value), limit = app->p->max_message_bytes;
    if (vlen > limit) {
        free(value);
        char why[128];
        snprintf(why, sizeof(why), "the event is %zu bytes; the limit is %zu", vlen, limit);
        return http_respond_error(req, ROUTE, 413, "payload_too_large", why);
    }

    /* Validate as the consumer will, so a bad delivery is refused here with
     * the reason, instead of travelling to the DLQ. */
    issue_event_t ev;
    char err[256], key[320];
    if (issue_event_parse(&ev, value, vlen, limit, err, sizeof(err)) != 0) {
        free(value);
        return http_respond_error(req, ROUTE, 400, "bad_payload", err);
    }
    issue_event_key(&ev, key, sizeof(key));
    issue_event_free(&ev);

    if (!header(req, "x-github-delivery", delivery, sizeof(delivery)))
        uuid_v4(delivery);
    return http_produce_then_answer(app, req, ROUTE, cfg->topic_raw, key, value, delivery, 202,
                                    "{\"accepted\":true}");
}
