/*
 * llm_gate.c -- the group's LLM limits as seen by one process.
 *
 * Rate limits: token buckets in PostgreSQL (llm_quota.h), one counting
 * requests (CLASSIFY_RATE_LIMIT = R per minute) and, when set, one counting
 * model tokens (CLASSIFY_TOKEN_LIMIT = T per minute). A bucket with limit L
 * per minute holds at most k (R/50 requests; for tokens T/50, or one
 * largest request if more) and refills at (L - 2k)/60 per second; each
 * process leases what is there, up to what it has waiting, and a lease not
 * used within a second lapses. So in any 60 seconds the group's requests
 * come from leases taken within 61 seconds: at most k + 61 (L - 2k)/60 < L,
 * while the sustained rate is (L - 2k)/60 per second, 96% of L. The
 * buckets' clock is the database's, the same for every process. Tokens are
 * reckoned before a request (its bytes / 4 plus an answer's worth) and
 * settled with the usage the provider reports at the next lease.
 *
 * A 429 pauses the request bucket for the group until its Retry-After, so
 * other processes stop too (they may still spend what they leased, at most
 * k requests within a second). It also halves the share of R this process
 * lets itself use (a local bucket at share x R/60 per second), which grows
 * back by RECOVER_STEP per answer: multiplicative decrease, additive
 * increase, so a provider that keeps answering 429 sees fewer and fewer
 * requests each time its Retry-After ends.
 *
 * Budgets: every classification the LLM makes is granted first from the
 * day's group budget and its user's (sync events carry a user), in one
 * atomic database call; a record's repair and retries use its grant.
 */
#include "llm_gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_quota.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "schema.h"

#define LEASE_TTL_MS 1000
#define DB_RETRY_MS 1000
#define ANSWER_TOKENS_EST 300   /* an answer of the fields asked for */
#define RECOVER_STEP 0.02        /* 50 answers from nothing to the full rate */
#define SHARE_MIN (1.0 / 64)

typedef struct lease {
    const char *name;             /* the bucket's row */
    double capacity, rate;        /* k, and the refill per second */
    double allowance;             /* leased, not yet used */
    double settle;                /* estimates corrected, for the next lease */
    uint64_t until_ms;            /* the allowance lapses */
    uint64_t next_ms;             /* the bucket was short: not before this */
} lease_t;

struct llm_gate {
    const config_t *cfg;
    const config_t *lim;          /* the limits: cfg, or the last reload's */
    config_t *reloaded;           /* owned, when lim is a reload */
    PGconn *db;
    uint64_t db_retry_ms;
    lease_t req, tok;
    bool tokens_limited;
    uint64_t paused_until_ms;     /* a 429 (ours or, through the bucket, another's) */
    double share;                 /* of R this process may use: 1, halved per 429 pause */
    double own_tokens;            /* the local bucket while share < 1 */
    uint64_t own_ms;              /* its last refill */
};

static void lease_init(lease_t *l, const char *name, double per_minute, double least_capacity)
{
    l->name = name;
    l->capacity = per_minute / 50 >= least_capacity ? per_minute / 50 : least_capacity;
    l->rate = (per_minute - 2 * l->capacity) / 60.0;
    if (l->rate < per_minute / 120.0)   /* a tiny limit next to one request */
        l->rate = per_minute / 120.0;
    if (l->rate < 0.001)
        l->rate = 0.001;
}

/* The rate buckets' shares follow the limits; what is leased stays. */
static void set_limits(llm_gate_t *g, const config_t *lim)
{
    g->lim = lim;
    lease_init(&g->req, "requests", lim->classify_rate_limit, 1);
    g->tokens_limited = lim->token_rate_limit > 0;
    /* The largest request: a body cut at body_chars, a title, the prompt,
     * and for a repair the bad answer (at most 2 KiB) too. */
    double largest = (g->cfg->llm_body_chars + 4096.0) / 4 + ANSWER_TOKENS_EST;
    lease_init(&g->tok, "tokens", lim->token_rate_limit, largest);
}

llm_gate_t *llm_gate_new(const config_t *cfg)
{
    llm_gate_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        abort();
    g->cfg = cfg;
    g->share = 1;
    set_limits(g, cfg);
    return g;
}

void llm_gate_set_limits(llm_gate_t *g, config_t *fresh)
{
    set_limits(g, fresh);
    if (g->reloaded != NULL) {
        config_free(g->reloaded);
        free(g->reloaded);
    }
    g->reloaded = fresh;
}

void llm_gate_free(llm_gate_t *g)
{
    if (g == NULL)
        return;
    if (g->db != NULL)
        PQfinish(g->db);
    if (g->reloaded != NULL) {
        config_free(g->reloaded);
        free(g->reloaded);
    }
    free(g);
}

static PGconn *db(llm_gate_t *g, uint64_t now)
{
    if (g->db != NULL && PQstatus(g->db) != CONNECTION_OK) {
        PQfinish(g->db);
        g->db = NULL;
    }
    if (g->db == NULL && now >= g->db_retry_ms) {
        char err[256];
        if ((g->db = pg_connect(g->cfg->database_url, err, sizeof(err))) == NULL) {
            log_warn("llm", "limits: %s; no LLM request until the database answers", err);
            g->db_retry_ms = now + DB_RETRY_MS;
        }
    }
    return g->db;
}

static void db_failed(llm_gate_t *g, const char *err, uint64_t now)
{
    log_warn("llm", "limits: %s", err);
    PQfinish(g->db);
    g->db = NULL;
    g->db_retry_ms = now + DB_RETRY_MS;
}

/* A pause until `until` (a 429 here, or one another process met): a new
 * one halves the share. false: that pause was known. */
static bool back_off(llm_gate_t *g, uint64_t until)
{
    /* A storm of 429s answering the requests of one moment: one pause. */
    if (until <= g->paused_until_ms + 100)
        return false;
    g->paused_until_ms = until;
    g->req.allowance = 0;   /* what was leased waits too */
    g->share = g->share / 2 > SHARE_MIN ? g->share / 2 : SHARE_MIN;
    g->own_tokens = 0;
    g->own_ms = until;      /* refills from the pause's end */
    return true;
}

/* Makes l->allowance at least `least` if the bucket lets it, leasing up to
 * `want`. */
static bool lease(llm_gate_t *g, lease_t *l, double least, double want, uint64_t now, uint64_t *retry_ms)
{
    if (l->allowance >= least && now < l->until_ms)
        return true;
    if (l->allowance < 0) {
        /* A request reckoned above what was left: the bucket pays it (it
         * may go below zero and refill); asking for the debt on top of
         * `least` could ask for more than the bucket ever holds. */
        l->settle -= l->allowance;
        l->allowance = 0;
    }
    if (now >= l->until_ms)
        l->allowance = 0;   /* lapsed */
    if (now < l->next_ms) {
        *retry_ms = l->next_ms;
        return false;
    }
    PGconn *c = db(g, now);
    if (c == NULL) {
        *retry_ms = g->db_retry_ms;
        return false;
    }
    if (least > l->capacity)
        least = l->capacity;
    if (want > l->capacity)
        want = l->capacity;
    if (want < least)
        want = least;
    double got = 0;
    long pause_ms = 0;
    char err[256];
    if (quota_bucket_lease(c, l->name, l->capacity, l->rate, least - l->allowance, want - l->allowance, l->settle,
                           &got, &pause_ms, err, sizeof(err)) != 0) {
        db_failed(g, err, now);
        *retry_ms = g->db_retry_ms;
        return false;
    }
    l->settle = 0;
    if (pause_ms > 0) {
        back_off(g, now + (uint64_t)pause_ms);
        *retry_ms = g->paused_until_ms;
        return false;
    }
    if (got > 0) {
        l->allowance += got;
        l->until_ms = now + LEASE_TTL_MS;
    }
    if (l->allowance >= least)
        return true;
    /* Short: what is missing refills in (least - allowance) / rate s. */
    uint64_t wait = (uint64_t)(1000.0 * (least - l->allowance) / l->rate);
    l->next_ms = now + (wait < 10 ? 10 : wait > 2000 ? 2000 : wait);
    *retry_ms = l->next_ms;
    return false;
}

/* While backing off: how many requests the local bucket allows now. */
static int own_allowance(llm_gate_t *g, uint64_t now, uint64_t *retry_ms)
{
    if (g->share >= 1)
        return 1 << 30;
    double rate = g->share * g->lim->classify_rate_limit / 60.0, cap = g->share * g->req.capacity;
    if (now > g->own_ms)
        g->own_tokens += rate * (double)(now - g->own_ms) / 1000.0;
    g->own_ms = now;
    if (g->own_tokens > (cap > 1 ? cap : 1))
        g->own_tokens = cap > 1 ? cap : 1;
    if (g->own_tokens >= 1)
        return (int)g->own_tokens;
    *retry_ms = now + (uint64_t)(1000.0 * (1 - g->own_tokens) / rate) + 1;
    return 0;
}

int llm_gate_admit(llm_gate_t *g, int n, const double *est, uint64_t now, uint64_t *retry_ms)
{
    if (n <= 0)
        return 0;
    if (now < g->paused_until_ms) {
        *retry_ms = g->paused_until_ms;
        return 0;
    }
    int own = own_allowance(g, now, retry_ms);
    if (own == 0)
        return 0;
    if (n > own)
        n = own;
    if (!lease(g, &g->req, 1, n, now, retry_ms))
        return 0;
    int m = n < (int)g->req.allowance ? n : (int)g->req.allowance;
    if (g->tokens_limited) {
        double want = 0;
        for (int i = 0; i < m; i++)
            want += est[i];
        if (!lease(g, &g->tok, est[0], want, now, retry_ms))
            return 0;
        double have = g->tok.allowance;
        int fit = 0;
        while (fit < m && (est[fit] <= have || fit == 0)) {
            have -= est[fit];
            fit++;
        }
        m = fit;
        g->tok.allowance = have;
    }
    g->req.allowance -= m;
    if (g->share < 1)
        g->own_tokens -= m;
    return m;
}

void llm_gate_refund(llm_gate_t *g, int n, double tokens)
{
    g->req.allowance += n;
    if (g->share < 1)
        g->own_tokens += n;
    if (g->tokens_limited)
        g->tok.allowance += tokens;
}

double llm_gate_estimate(size_t request_bytes)
{
    return (double)request_bytes / 4 + ANSWER_TOKENS_EST;
}

void llm_gate_answered(llm_gate_t *g, double est, double used)
{
    if (g->tokens_limited)
        g->tok.settle += used - est;
    if (g->share < 1)
        g->share = g->share + RECOVER_STEP < 1 ? g->share + RECOVER_STEP : 1;
}

bool llm_gate_pause(llm_gate_t *g, long ms)
{
    uint64_t now = rt_now_ms();
    if (!back_off(g, now + (uint64_t)ms))
        return false;
    PGconn *c = db(g, now);
    char err[256];
    if (c != NULL && quota_bucket_pause(c, g->req.name, ms, err, sizeof(err)) != 0)
        db_failed(g, err, now);
    return true;
}

int llm_gate_budget(llm_gate_t *g, const char *user, int n)
{
    uint64_t now = rt_now_ms();
    PGconn *c = db(g, now);
    if (c == NULL)
        return -1;
    int granted = 0;
    long used = 0;
    char err[256];
    long user_limit = user[0] ? config_user_limit(g->lim, user) : -1;
    if (quota_budget_take(c, user, n, g->lim->daily_limit, user_limit, &granted, &used, err, sizeof(err)) != 0) {
        db_failed(g, err, now);
        return -1;
    }
    long left = g->lim->daily_limit - used;
    __atomic_store_n(&g_metrics.budget_remaining, left > 0 ? left : 0, __ATOMIC_RELAXED);
    return granted;
}

bool llm_gate_known(llm_gate_t *g, const long long *ids, const char *const *versions, int n, bool *known)
{
    uint64_t now = rt_now_ms();
    PGconn *c = db(g, now);
    char err[256];
    if (c != NULL && quota_known_versions(c, ids, versions, n, known, err, sizeof(err)) == 0)
        return true;
    if (c != NULL)
        db_failed(g, err, now);
    for (int i = 0; i < n; i++)
        known[i] = false;
    return false;
}
