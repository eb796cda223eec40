/*
 * webhook_delivery.h -- what a GitHub webhook delivery becomes, decided
 * without the HTTP server: the signature (HMAC-SHA256 of the body with the
 * shared secret, compared in constant time) before anything else, then the
 * event kind, then the body as an `issues.raw` event validated as the
 * consumer will validate it. The HTTP handler only reads headers and
 * answers; the fuzzer drives this directly.
 */
#ifndef DISPATCHD_WEBHOOK_DELIVERY_H
#define DISPATCHD_WEBHOOK_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct webhook_delivery {
    const char *secret;            /* non-empty */
    const char *body;
    size_t len;
    const char *signature;         /* X-Hub-Signature-256, NULL if absent */
    const char *event;             /* X-GitHub-Event, NULL if absent */
    size_t max_event_bytes;        /* the largest event Kafka takes */
    const char *timestamp;         /* ISO 8601, stamped on the event */
} webhook_delivery_t;

typedef struct webhook_outcome {
    int status;                    /* 200 ping, 202 accepted or ignored, 4xx refused */
    bool publish;                  /* value and key are set: publish, then answer */
    char *value;                   /* malloc'd event JSON when publish */
    char key[320];
    const char *error;             /* the error code when refused */
    char detail[256];              /* why; or the JSON answer when not refused */
} webhook_outcome_t;

/* Fills out; the caller frees out->value. */
void webhook_delivery_decide(const webhook_delivery_t *in, webhook_outcome_t *out);

/* "sha256=<hex>" of body under secret, into out (at least 72 bytes). */
void webhook_signature(const char *secret, const char *body, size_t len, char *out);

#endif
