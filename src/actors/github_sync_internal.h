/*
 * github_sync_internal.h -- the github actor's state, shared by its own
 * files only (github_sync.c: requests, lease, the actor;
 * github_sync_pages.c: counts, pages, checkpoints). Nothing else includes
 * it.
 */
#ifndef DISPATCHD_GITHUB_SYNC_INTERNAL_H
#define DISPATCHD_GITHUB_SYNC_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>

#include "gh_page.h"
#include "gh_rules.h"
#include "gh_sync_store.h"
#include "github_sync.h"
#include "http_fetch.h"
#include "metrics.h"

/* A sync whose process is silent for [github] sync_lease_s is taken over;
 * its lease is renewed (and takeovers looked for, checkpoints retried)
 * three times as often. */
#define LEASE_S(s) ((s)->env->cfg->github_sync_lease_s)
#define REQUEST_TIMEOUT_MS 30000
#define TAG_HTTP 1                /* and TAG_HTTP + 1: http_fetch's watches */
#define MAX_CLAIM 16
#define START_WAIT_MAX_MS 5000    /* a start waiting longer for the token is answered 503 */
#define START_TRIES 3             /* a start's count asked again after short waits, at most */

enum { MSG_GH_ACKED = MSG_GH_SYNC_START + 1 };

typedef struct gh_acked_msg {
    rt_msg_t hdr;
    rt_actor_t *to;               /* the actor, from the producer's thread */
    char sync_id[64];
    int seq;
    rd_kafka_resp_err_t err;
} gh_acked_msg_t;

#define GH_FLIGHT 4                /* pages published and not yet checkpointed, at most */

typedef enum {
    J_COUNT,                      /* to count (a start request) */
    J_RUN,                        /* registered: paging */
} job_state_t;

/* A page taken and published, its checkpoint due once Kafka has all of
 * its events (pages are checkpointed in order). */
typedef struct flight {
    int seq;
    int acks;                     /* acknowledgements still due */
    char err[256];                /* a produce that failed */
    gh_cursor_t after;            /* the cursor after this page */
    gh_counts_t delta;            /* what this page adds to the sync's counts */
    gh_page_t page;               /* its issues, until published */
    bool to_publish;
    char url[GH_URL_MAX];         /* its request, and the ETag GitHub gave it */
    char *etag;
    int issues, prs;              /* what a 304 of it will stand for */
} flight_t;

typedef struct job {
    struct job *next;
    job_state_t st;
    char sync_id[64], user[256], owner[128], repo[128], full[260];
    long total;
    gh_cursor_t cur;              /* checkpointed */
    gh_counts_t n;
    gh_cursor_t head;             /* after the newest page taken: where the next request goes */
    flight_t fl[GH_FLIGHT];       /* oldest first */
    int nfl;
    bool save_failed;             /* a checkpoint to write again (the tick) */
    long waits;                   /* rate-limit waits (counted in the database as they begin) */
    gh_retry_t retry;
    int seq;
    char url[GH_URL_MAX];         /* the request in flight */
    bool force;                   /* J_COUNT: the start request */
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
} job_t;

typedef struct gh_sync_state {
    const actor_env_t *env;
    rt_actor_t *self;
    http_fetch_t *fetch;
    PGconn *db;
    PGconn *turn_db;              /* the token's turn only (see take_turn) */
    char lease_owner[37];
    char *scope_user, *scope_owner, *scope_repo;
    job_t *jobs;
    job_t *asking;                /* whose request is in flight */
    bool holding;                 /* the token's turn (gh_store_token_take) is ours */
    strbuf_t body;
    gh_answer_t ans;
    char etag[256], link[2 * GH_URL_MAX];
    struct curl_slist *headers;
    uint64_t not_before;          /* rt_now_ms: nothing is sent before */
    uint64_t wake_timer;
    uint64_t rng;
} gh_sync_state_t;

PGconn *gs_db(gh_sync_state_t *s);
job_t *gs_job_find(gh_sync_state_t *s, const char *sync_id);
void gs_job_free(gh_sync_state_t *s, job_t *j);
void gs_answer(job_t *j, int status, json_t *body);
void gs_answer_error(job_t *j, int status, const char *error, const char *detail);
/* The sync ends: completed (or syncing until storage has every event),
 * or failed with the reason. */
void gs_finish(gh_sync_state_t *s, job_t *j, const char *failure);
/* Nothing is sent for wait_ms; the syncs waiting on the token show why
 * and until when. */
void gs_hold(gh_sync_state_t *s, uint64_t wait_ms, const char *reason, bool rate_limit);

/* A start's search answer: confirmation, or the sync registered. */
void gs_counted(gh_sync_state_t *s, job_t *j);
/* A page's answer (200, or 304: unchanged since a sync took it). */
void gs_paged(gh_sync_state_t *s, job_t *j, bool not_modified);
void gs_on_acked(gh_sync_state_t *s, gh_acked_msg_t *m);
/* Publishes the pages taken since (after the next request went out: the
 * lookups and produces are off the fetch's path). */
void gs_publish_taken(gh_sync_state_t *s);
/* Checkpoints the oldest pages Kafka has wholly; completes the sync after
 * the last. */
void gs_drain(gh_sync_state_t *s, job_t *j);
/* Whether the job may send its next request. */
bool gs_wants_page(const job_t *j);
void gs_flights_free(job_t *j);

#endif
