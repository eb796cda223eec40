/*
 * webhook.c -- POST /webhook/github.
 *
 * The signature (X-Hub-Signature-256, HMAC-SHA256 of the body with
 * GITHUB_WEBHOOK_SECRET) is checked in constant time before anything else.
 * `issues` and `issue_comment` deliveries become `issues.raw` events; the
 * answer (202) waits for Kafka's acknowledgement, so a 2xx means the event
 * is durable and anything else makes GitHub deliver again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "publisher.h"
#include "routes.h"
#include "timefmt.h"
#include "uuid.h"
#include "webhook_delivery.h"


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

int webhook_github(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    const config_t *cfg = app->cfg;
    if (cfg->webhook_secret == NULL || cfg->webhook_secret[0] == '\0')
        return http_respond_error(req, rc->route, 403, "webhooks_disabled", "GITHUB_WEBHOOK_SECRET is not set");
    if (app->pl == NULL || __atomic_load_n(&app->pl->status->stopping, __ATOMIC_ACQUIRE))
        return http_respond_error(req, rc->route, 503, "shutting_down", "try again");
    char sig[160], event[64], delivery[64], ts[ISO8601_LEN];
    iso8601_now(ts, sizeof(ts));
    webhook_delivery_t in = {
        .secret = cfg->webhook_secret,
        .body = req->entity.base,
        .len = req->entity.len,
        .signature = header(req, "x-hub-signature-256", sig, sizeof(sig)) ? sig : NULL,
        .event = header(req, "x-github-event", event, sizeof(event)) ? event : NULL,
        .max_event_bytes = app->pl->max_message_bytes,
        .timestamp = ts,
    };
    webhook_outcome_t out;
    webhook_delivery_decide(&in, &out);
    if (out.error != NULL)
        return http_respond_error(req, rc->route, out.status, out.error, out.detail);
    if (!out.publish)
        return http_respond_json(req, rc->route, out.status, out.detail);
    if (!header(req, "x-github-delivery", delivery, sizeof(delivery)))
        uuid_v4(delivery);
    return http_produce_then_answer(app, req, rc->route, cfg->topic_raw, out.key, out.value, delivery, 202,
                                    "{\"accepted\":true}");
}
