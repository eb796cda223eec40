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

static void on_ack(void *ctx, rd_kafka_resp_err_t err)
{
    http_pending_t *pending = ctx;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        http_pending_complete(pending, 202, "{\"accepted\":true}");
    } else {
        char body[256];
        snprintf(body, sizeof(body), "{\"error\":\"kafka_unavailable\",\"detail\":\"%s\"}", rd_kafka_err2name(err));
        http_pending_complete(pending, 503, body);
    }
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

    /* Validate as the consumer will, so a bad delivery is refused here with
     * the reason, instead of travelling to the DLQ. */
    issue_event_t ev;
    char err[256], key[320];
    if (issue_event_parse(&ev, value, strlen(value), (size_t)cfg->max_message_bytes, err, sizeof(err)) != 0) {
        free(value);
        return http_respond_error(req, ROUTE, 400, "bad_payload", err);
    }
    issue_event_key(&ev, key, sizeof(key));
    issue_event_free(&ev);

    if (!header(req, "x-github-delivery", delivery, sizeof(delivery)))
        uuid_v4(delivery);
    external_ack_t *ack = rt_msg_new(sizeof(*ack), MSG_EXTERNAL_ACK);
    ack->done = on_ack;
    ack->ctx = http_pending_new(app, req, ROUTE);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        app->p->producer, RD_KAFKA_V_TOPIC(cfg->topic_raw), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
        RD_KAFKA_V_HEADER("correlation_id", delivery, -1), RD_KAFKA_V_OPAQUE(ack), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        free(value);
        on_ack(ack->ctx, e);
        rt_msg_free(ack);
    }
    return 0;
}
