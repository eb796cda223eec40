#include "webhook_delivery.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

void webhook_signature(const char *secret, const char *body, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &maclen);
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < maclen; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

static void refuse(webhook_outcome_t *out, int status, const char *error, const char *detail)
{
    out->status = status;
    out->error = error;
    snprintf(out->detail, sizeof(out->detail), "%s", detail);
}

void webhook_delivery_decide(const webhook_delivery_t *in, webhook_outcome_t *out)
{
    memset(out, 0, sizeof(*out));
    if (in->signature == NULL)
        return refuse(out, 401, "missing_signature", "X-Hub-Signature-256 header required");
    char expect[7 + 2 * EVP_MAX_MD_SIZE + 1];
    webhook_signature(in->secret, in->body, in->len, expect);
    size_t n = strlen(expect);
    if (strlen(in->signature) != n || CRYPTO_memcmp(expect, in->signature, n) != 0)
        return refuse(out, 401, "bad_signature", "X-Hub-Signature-256 does not match the body");
    if (in->event == NULL)
        return refuse(out, 400, "missing_event", "X-GitHub-Event header required");
    if (strcmp(in->event, "ping") == 0) {
        out->status = 200;
        snprintf(out->detail, sizeof(out->detail), "{\"ok\":true,\"message\":\"pong\"}");
        return;
    }
    if (strcmp(in->event, "issues") != 0 && strcmp(in->event, "issue_comment") != 0) {
        out->status = 202;
        snprintf(out->detail, sizeof(out->detail), "{\"accepted\":false,\"message\":\"event type ignored\"}");
        return;
    }
    json_error_t je;
    json_t *root = json_loadb(in->body, in->len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return refuse(out, 400, "bad_payload", "body is not a JSON object");
    }
    json_object_set_new(root, "event_type", json_string(strcmp(in->event, "issues") == 0 ? "issue" : in->event));
    json_object_set_new(root, "timestamp", json_string(in->timestamp));
    char *value = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (value == NULL)
        return refuse(out, 400, "bad_payload", "body cannot be written back as JSON");
    size_t vlen = strlen(value);
    if (vlen > in->max_event_bytes) {
        free(value);
        char why[128];
        snprintf(why, sizeof(why), "the event is %zu bytes; the limit is %zu", vlen, in->max_event_bytes);
        return refuse(out, 413, "payload_too_large", why);
    }
    /* Validated as the consumer will, so a bad delivery is refused here with
     * the reason instead of travelling to the DLQ. */
    issue_event_t ev;
    char err[256];
    if (issue_event_parse(&ev, value, vlen, in->max_event_bytes, err, sizeof(err)) != 0) {
        free(value);
        return refuse(out, 400, "bad_payload", err);
    }
    issue_event_key(&ev, out->key, sizeof(out->key));
    issue_event_free(&ev);
    out->status = 202;
    out->publish = true;
    out->value = value;
    snprintf(out->detail, sizeof(out->detail), "{\"accepted\":true}");
}
