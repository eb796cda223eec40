/*
 * latest.h -- the newest version of a document, published by one thread
 * and read by any number: a reader takes a reference to an immutable copy
 * (waiting only for a pointer swap, never for the writer's work) and the
 * copy lives until its last reader lets it go. What the consistency actor
 * hands the control plane: its documents are read on the event loop
 * without a message round trip, so a slow refresh never delays a reader.
 */
#ifndef DISPATCHD_LATEST_H
#define DISPATCHD_LATEST_H

#include <stddef.h>
#include <stdint.h>

typedef struct latest_doc {
    int refs;                     /* atomic */
    uint64_t version;             /* 1, 2, ... in publishing order */
    int status;                   /* the writer's verdict (an HTTP status) */
    size_t len;
    char text[];                  /* NUL-terminated */
} latest_doc_t;

typedef struct latest latest_t;

latest_t *latest_new(void);
/* After every reader and the writer are done with it. */
void latest_free(latest_t *l);
/* A copy of text becomes the newest. */
void latest_publish(latest_t *l, int status, const char *text);
/* The newest, held for the caller (NULL before the first publish). */
latest_doc_t *latest_get(latest_t *l);
/* The newest version number (0 before the first), without taking it. */
uint64_t latest_version(latest_t *l);
void latest_release(latest_doc_t *d);

#endif
