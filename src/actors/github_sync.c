/*
 * github_sync.c -- the GitHub sync actor (see github_sync.h).
 *
 * A sync is a job: counted (one search request), registered, then paged.
 * Every request of the process goes through one slot -- one request at a
 * time for the token -- and a time before which nothing is sent, set from
 * each answer by gh_judge (the primary limit's reset, a secondary limit's
 * wait, backoff after errors). A page's new issue versions are produced
 * with the pipeline's producer; when Kafka has acknowledged all of them
 * the checkpoint (cursor, counts, the page's ETag) is written, and only a
 * sync still running and still leased by this process is written: a
 * cancel, from any process, ends the fetch at the next page. A page is
 * published again only when a crash came between its publishing and its
 * checkpoint; storage counts such a repeat once (ledger.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "github_sync_internal.h"
#include "log.h"
#include "schema.h"
#include "syncs.h"
#include "uuid.h"

PGconn *gs_db(gh_sync_state_t *s)
{
    char err[256];
    PGconn *c = pg_keep(&s->db, s->env->cfg->database_url, err, sizeof(err));
    if (c == NULL)
        log_warn("github", "%s", err);
    return c;
}

static job_t *job_new(gh_sync_state_t *s, const char *user, const char *owner, const char *repo)
{
    job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    snprintf(j->user, sizeof(j->user), "%s", user);
    snprintf(j->owner, sizeof(j->owner), "%s", owner);
    snprintf(j->repo, sizeof(j->repo), "%s", repo);
    snprintf(j->full, sizeof(j->full), "%s/%s", owner, repo);
    gh_cursor_init(&j->cur);
    gh_cursor_init(&j->head);
    job_t **p = &s->jobs;   /* at the tail: requests go round the jobs in order */
    while (*p)
        p = &(*p)->next;
    *p = j;
    return j;
}

void gs_job_free(gh_sync_state_t *s, job_t *j)
{
    for (job_t **p = &s->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    if (s->asking == j)
        s->asking = NULL;   /* its answer, when it comes, is dropped */
    if (j->st == J_RUN)
        gauge_add(&g_metrics.github_syncs, -1);
    gs_flights_free(j);
    gh_cursor_free(&j->cur);
    gh_cursor_free(&j->head);
    free(j);
}

job_t *gs_job_find(gh_sync_state_t *s, const char *sync_id)
{
    for (job_t *j = s->jobs; j; j = j->next)
        if (j->st != J_COUNT && strcmp(j->sync_id, sync_id) == 0)
            return j;
    return NULL;
}

void gs_answer(job_t *j, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    j->reply(j->ctx, status, text);
    free(text);
    json_decref(body);
}

void gs_answer_error(job_t *j, int status, const char *error, const char *detail)
{
    gs_answer(j, status, json_pack("{s:s, s:s}", "error", error, "detail", detail));
}

/* The sync ends: completed (or syncing until storage has every event),
 * or failed with the reason. */
void gs_finish(gh_sync_state_t *s, job_t *j, const char *failure)
{
    char err[256];
    PGconn *c = gs_db(s);
    if (c == NULL || syncs_published(c, j->sync_id, j->n.published, failure, err, sizeof(err)) != 0) {
        log_warn("github", "sync %s not ended (%s): the lease runs out and it is taken over", j->sync_id,
                 c ? err : "no database");
    } else if (failure) {
        log_warn("github", "sync %s of %s failed: %s", j->sync_id, j->full, failure);
    } else {
        log_info("github", "sync %s of %s fetched: %ld pages, %ld issues (%ld published, %ld unchanged), %ld pull "
                 "requests skipped, %ld rate-limit waits", j->sync_id, j->full, j->n.pages, j->n.fetched,
                 j->n.published, j->n.unchanged, j->n.prs, j->waits);
    }
    gs_job_free(s, j);
}


/* --- requests ------------------------------------------------------------ */

static void header_add(gh_sync_state_t *s, const char *fmt, const char *value)
{
    char line[512];
    snprintf(line, sizeof(line), fmt, value);
    s->headers = curl_slist_append(s->headers, line);
}

static void on_header(void *call, const char *line, size_t len)
{
    gh_sync_state_t *s = call;
    gh_answer_header(&s->ans, line, len);
    size_t n;
    const char *v;
    if ((v = gh_header_value(line, len, "etag", &n)) != NULL)
        snprintf(s->etag, sizeof(s->etag), "%.*s", (int)n, v);
    else if ((v = gh_header_value(line, len, "link", &n)) != NULL)
        snprintf(s->link, sizeof(s->link), "%.*s", (int)n, v);
}

static void ask(gh_sync_state_t *s, job_t *j, const char *url, const char *if_none_match)
{
    const config_t *cfg = s->env->cfg;
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    header_add(s, "%s", "Accept: application/vnd.github+json");
    header_add(s, "%s", "X-GitHub-Api-Version: 2022-11-28");
    header_add(s, "User-Agent: dispatchd/%s", DISPATCHD_VERSION);
    if (cfg->github_token != NULL && cfg->github_token[0] != '\0')
        header_add(s, "Authorization: Bearer %s", cfg->github_token);
    if (if_none_match != NULL)
        header_add(s, "If-None-Match: %s", if_none_match);
    gh_answer_init(&s->ans);
    s->etag[0] = s->link[0] = '\0';
    s->asking = j;
    http_request_t req = {.url = url, .headers = s->headers, .timeout_ms = REQUEST_TIMEOUT_MS,
                          .response = &s->body, .on_header = on_header, .call = s};
    http_fetch_start(s->fetch, &req);
}

static void ask_count(gh_sync_state_t *s, job_t *j)
{
    char url[GH_URL_MAX];
    gh_count_url(s->env->cfg->github_api_url, j->owner, j->repo, url, sizeof(url));
    ask(s, j, url, NULL);
}

/* false: the job ended instead (nothing was sent). */
static bool ask_page(gh_sync_state_t *s, job_t *j)
{
    char err[256];
    if (gh_cursor_url(&j->head, s->env->cfg->github_api_url, j->owner, j->repo, j->url, sizeof(j->url)) != 0) {
        gs_finish(s, j, "the next page's URL is too long");
        return false;
    }
    PGconn *c = gs_db(s);
    if (c != NULL && gh_store_running(c, j->sync_id, s->lease_owner, err, sizeof(err)) == 0) {
        log_info("github", "sync %s of %s is no longer this process's to run (cancelled or taken over): fetching "
                 "stopped after %ld pages", j->sync_id, j->full, j->n.pages);
        gs_job_free(s, j);
        return false;
    }
    /* A page fetched before answers 304 (no quota) if it did not change. */
    char *etag = NULL;
    if (c != NULL && gh_store_page_get(c, j->full, j->url, &etag, NULL, err, sizeof(err)) != 0)
        log_warn("github", "%s", err);
    ask(s, j, j->url, etag && etag[0] ? etag : NULL);
    free(etag);
    return true;
}

static void wake_at(gh_sync_state_t *s, uint64_t when)
{
    if (s->wake_timer)
        rt_timer_cancel(s->env->rt, s->wake_timer);
    uint64_t now = rt_now_ms();
    s->wake_timer = rt_timer_start(s->self, when > now ? when - now : 0, 0, s);
}

/* Starts are not kept waiting behind a long hold of the token. */
static void reject_starts(gh_sync_state_t *s, uint64_t wait_ms)
{
    if (wait_ms < START_WAIT_MAX_MS)
        return;
    for (job_t *j = s->jobs, *next; j; j = next) {
        next = j->next;
        if (j->st != J_COUNT)
            continue;
        gs_answer(j, 503, json_pack("{s:s, s:s, s:I}", "error", "github_rate_limited", "detail",
                                 "GitHub's limits hold every request of this process for now", "retry_after_s",
                                 (json_int_t)((wait_ms + 999) / 1000)));
        gs_job_free(s, j);
    }
}

/* The token's turn has a connection of its own that does not wait for the
 * disk at commit: two writes a request, whose loss in a crash of the
 * database costs nothing (a turn lapses, a wait is asked again). */
static PGconn *turn_db(gh_sync_state_t *s)
{
    char err[256];
    PGconn *before = s->turn_db;
    PGconn *c = pg_keep(&s->turn_db, s->env->cfg->database_url, err, sizeof(err));
    if (c == NULL)
        log_warn("github", "%s", err);
    else if (c != before && !pg_command(c, "SET synchronous_commit = off"))
        log_warn("github", "token turn: %s", PQerrorMessage(c));
    return c;
}

/* The token's turn, shared by every process of the group (one request at
 * a time, GitHub's waits obeyed by all): false when it is not ours now,
 * with a wake-up set for when to ask again. */
static bool take_turn(gh_sync_state_t *s)
{
    char err[256], why[200];
    long long wait = 0;
    bool rate_limit = false;
    PGconn *c = turn_db(s);
    /* Held for a lease's length, renewed by the tick while a request runs:
     * the turn of a process that died lapses as its syncs' leases do. */
    int taken = c ? gh_store_token_take(c, s->env->cfg->github_api_url, s->lease_owner, LEASE_S(s), &wait, why,
                                        sizeof(why), &rate_limit, err, sizeof(err))
                  : -1;
    if (taken > 0) {
        s->holding = true;
        return true;
    }
    if (taken < 0) {
        if (c != NULL)
            log_warn("github", "%s", err);
        wait = 1000;
        snprintf(why, sizeof(why), "database unavailable");
    }
    if (why[0] != '\0' && wait >= 1000)
        gs_hold(s, (uint64_t)wait, why, rate_limit);   /* shown as the syncs' wait */
    else
        s->not_before = rt_now_ms() + (uint64_t)(wait > 0 ? wait : 50);
    reject_starts(s, s->not_before - rt_now_ms());
    wake_at(s, s->not_before);
    return false;
}

static void keep_turn(gh_sync_state_t *s)
{
    char err[256], why[200];
    long long wait;
    bool rate_limit;
    PGconn *c = turn_db(s);
    if (c == NULL || gh_store_token_take(c, s->env->cfg->github_api_url, s->lease_owner, LEASE_S(s), &wait, why,
                                         sizeof(why), &rate_limit, err, sizeof(err)) < 0)
        log_warn("github", "the token's turn not renewed (%s)", c ? err : "no database");
}

static void give_turn(gh_sync_state_t *s, uint64_t wait_ms, const char *reason, bool rate_limit)
{
    if (!s->holding)
        return;
    s->holding = false;
    char err[256];
    PGconn *c = turn_db(s);
    if (c == NULL || gh_store_token_give(c, s->env->cfg->github_api_url, s->lease_owner, (long long)wait_ms, reason,
                                         rate_limit, err, sizeof(err)) != 0)
        log_warn("github", "the token's turn not given back (%s): the others wait for it to lapse",
                 c ? err : "no database");
}

/* The next request, when the token may send one. */
static void pump(gh_sync_state_t *s)
{
    if (s->asking != NULL || env_stopping(s->env))
        return;
    uint64_t now = rt_now_ms();
    if (now < s->not_before) {
        reject_starts(s, s->not_before - now);
        wake_at(s, s->not_before);
        return;
    }
    for (job_t *j = s->jobs; j; j = j->next) {
        if (j->st != J_COUNT && !gs_wants_page(j))
            continue;
        if (!take_turn(s))
            return;
        /* Round the jobs: this one goes to the tail. */
        job_t **p = &s->jobs;
        while (*p != j)
            p = &(*p)->next;
        *p = j->next;
        j->next = NULL;
        job_t **t = &s->jobs;
        while (*t)
            t = &(*t)->next;
        *t = j;
        if (j->st == J_COUNT) {
            ask_count(s, j);
        } else if (!ask_page(s, j)) {
            give_turn(s, 0, "", false);
            pump(s);   /* that sync ended: the next one's turn */
        }
        return;
    }
}

/* Nothing is sent for wait_ms; the syncs waiting on the token show why
 * and until when. */
void gs_hold(gh_sync_state_t *s, uint64_t wait_ms, const char *reason, bool rate_limit)
{
    s->not_before = rt_now_ms() + wait_ms;
    metric_add(&g_metrics.github_wait_ms, wait_ms);
    if (wait_ms < 1000)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long until = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (long long)wait_ms;
    log_info("github", "%s: nothing sent for %.1f s", reason, (double)wait_ms / 1000.0);
    PGconn *c = gs_db(s);
    char err[256];
    for (job_t *j = s->jobs; j && c; j = j->next) {
        if (j->st == J_COUNT)
            continue;
        j->waits += rate_limit;
        if (gh_store_wait(c, j->sync_id, s->lease_owner, LEASE_S(s), until, reason, rate_limit, err, sizeof(err)) < 0)
            log_warn("github", "%s", err);
    }
}

static void answered(void *ctx, void *call, const http_result_t *res)
{
    (void)call;
    gh_sync_state_t *s = ctx;
    job_t *j = s->asking;
    s->asking = NULL;
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    s->ans.status = res->transport_ok ? res->status : 0;
    metric_add(&g_metrics.github_requests[reply_code_of(s->ans.status, res->timed_out)], 1);
    uint64_t wait_ms = 0;
    char reason[200];
    gh_retry_t scratch = {0};
    gh_verdict_t v = gh_judge(&s->ans, (int64_t)time(NULL), j ? &j->retry : &scratch, &s->rng, &wait_ms, reason,
                              sizeof(reason));
    bool limited = s->ans.status == 403 || s->ans.status == 429 || s->ans.remaining == 0;
    give_turn(s, wait_ms, reason, limited);
    if (j == NULL) {   /* cancelled meanwhile */
        if (wait_ms > 0)
            gs_hold(s, wait_ms, reason, limited);
        pump(s);
        return;
    }
    if (!res->transport_ok)
        log_warn("github", "%s: %s", j->full, res->error);
    if (v == GH_RETRY && j->st == J_COUNT &&
        (wait_ms > START_WAIT_MAX_MS || j->retry.secondary + j->retry.transient > START_TRIES)) {
        /* A start is answered now, not after a long wait of GitHub's. */
        json_t *b = json_pack("{s:s, s:s, s:I}", "error", limited ? "github_rate_limited" : "github_unavailable",
                              "detail", reason, "retry_after_s", (json_int_t)((wait_ms + 999) / 1000));
        gs_answer(j, 503, b);
        gs_job_free(s, j);
    } else if (v == GH_GIVE_UP) {
        if (j->st == J_COUNT) {
            long st = s->ans.status;
            bool unknown = st == 404 || st == 422;   /* the search API answers 422 for a repository it does not know */
            gs_answer_error(j, unknown ? 404 : 502, unknown ? "not_found" : "github_unavailable", reason);
            gs_job_free(s, j);
        } else {
            gs_finish(s, j, reason);
        }
    } else if (v == GH_GO) {
        if (j->st == J_COUNT)
            gs_counted(s, j);
        else
            gs_paged(s, j, s->ans.status == 304);
    }
    if (wait_ms > 0)
        gs_hold(s, wait_ms, reason, limited);
    pump(s);
    gs_publish_taken(s);
}

/* --- the lease ------------------------------------------------------------ */

static void take_over(gh_sync_state_t *s)
{
    PGconn *c = gs_db(s);
    if (c == NULL || env_stopping(s->env))
        return;
    gh_claimed_t got[MAX_CLAIM];
    char err[256];
    int n = gh_store_claim(c, s->lease_owner, LEASE_S(s), s->scope_user, s->scope_owner, s->scope_repo, got, MAX_CLAIM,
                           err, sizeof(err));
    if (n < 0)
        log_warn("github", "%s", err);
    for (int i = 0; i < n; i++) {
        job_t *j = job_new(s, got[i].user, got[i].owner, got[i].repo);
        memcpy(j->sync_id, got[i].sync_id, sizeof(j->sync_id));
        j->total = got[i].total;
        j->n = got[i].counts;
        j->waits = j->n.waits;
        if (got[i].cursor == NULL || gh_cursor_load(&j->cur, got[i].cursor) != 0)
            gh_cursor_init(&j->cur);
        free(got[i].cursor);
        gh_cursor_copy(&j->head, &j->cur);
        j->st = J_RUN;
        gauge_add(&g_metrics.github_syncs, 1);
        log_info("github", "sync %s of %s resumed after %ld pages (%ld issues fetched, %ld published)", j->sync_id,
                 j->full, j->n.pages, j->n.fetched, j->n.published);
    }
}

static void renew(gh_sync_state_t *s)
{
    int n = 0;
    for (job_t *j = s->jobs; j; j = j->next)
        n += j->st != J_COUNT;
    if (n == 0)
        return;
    const char *ids[n];
    job_t *jobs[n];
    bool gone[n];
    int k = 0;
    for (job_t *j = s->jobs; j; j = j->next)
        if (j->st != J_COUNT) {
            jobs[k] = j;
            ids[k++] = j->sync_id;
        }
    char err[256];
    PGconn *c = gs_db(s);
    if (c == NULL || gh_store_renew(c, s->lease_owner, LEASE_S(s), ids, n, gone, err, sizeof(err)) != 0) {
        if (c)
            log_warn("github", "%s", err);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (gone[i]) {
            log_info("github", "sync %s of %s ended elsewhere (cancelled): fetching stopped", jobs[i]->sync_id,
                     jobs[i]->full);
            gs_job_free(s, jobs[i]);
        } else if (jobs[i]->save_failed) {
            gs_drain(s, jobs[i]);
        }
    }
}

/* --- the actor ------------------------------------------------------------ */

static void start(gh_sync_state_t *s, gh_sync_start_msg_t *m)
{
    /* A sync of the same user and repository whose process died is this
     * one's to resume, not a reason to refuse. */
    take_over(s);
    for (job_t *j = s->jobs; j; j = j->next) {
        if (j->st != J_COUNT && strcmp(j->user, m->user) == 0 && strcmp(j->owner, m->owner) == 0 &&
            strcmp(j->repo, m->repo) == 0) {
            json_t *b = json_pack("{s:s, s:s, s:s, s:b}", "error", "sync_in_progress", "detail",
                                  "this repository's sync by this user is running (here)", "sync_id", j->sync_id,
                                  "running_here", 1);
            char *text = json_dumps(b, JSON_COMPACT);
            m->reply(m->ctx, 409, text);
            free(text);
            json_decref(b);
            return;
        }
    }
    job_t *j = job_new(s, m->user, m->owner, m->repo);
    j->st = J_COUNT;
    j->force = m->force;
    j->reply = m->reply;
    j->ctx = m->ctx;
}

static void gh_sync_handler(rt_actor_t *self, rt_msg_t *msg)
{
    gh_sync_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_GH_SYNC_START:
        start(s, (gh_sync_start_msg_t *)msg);
        break;
    case MSG_GH_ACKED:
        gs_on_acked(s, (gh_acked_msg_t *)msg);
        break;
    case RT_MSG_IO:
        http_fetch_io(s->fetch, (rt_io_msg_t *)msg);
        break;
    case RT_MSG_TIMER:
        if (((rt_timer_msg_t *)msg)->arg == NULL) {   /* the tick */
            renew(s);
            if (s->holding)
                keep_turn(s);
            take_over(s);
            gs_publish_taken(s);   /* pages the database refused to look up */
        } else if (((rt_timer_msg_t *)msg)->timer_id == s->wake_timer) {
            s->wake_timer = 0;
        }
        break;
    default:
        break;
    }
    pump(s);
    rt_msg_free(msg);
}

static void gh_sync_finalize(rt_actor_t *self)
{
    gh_sync_state_t *s = rt_actor_state(self);
    http_fetch_free(s->fetch);
    give_turn(s, 0, "", false);
    curl_slist_free_all(s->headers);
    while (s->jobs) {
        job_t *j = s->jobs;
        if (j->st == J_COUNT)
            gs_answer_error(j, 503, "stopping", "the process is stopping");
        gs_job_free(s, j);
    }
    sb_free(&s->body);
    if (s->db != NULL) {
        gh_store_release(s->db, s->lease_owner);
        PQfinish(s->db);
    }
    if (s->turn_db != NULL)
        PQfinish(s->turn_db);
    free(s->scope_user);
    free(s->scope_owner);
    free(s->scope_repo);
    free(s);
}

static char *dup_opt(const char *v)
{
    return v ? strdup(v) : NULL;
}

rt_actor_t *github_sync_spawn(const actor_env_t *env, const gh_sync_scope_t *scope)
{
    gh_sync_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    uuid_v4(s->lease_owner);
    s->rng = (uint64_t)time(NULL) * 2654435761u + 1;
    sb_init(&s->body);
    if (scope != NULL) {
        s->scope_user = dup_opt(scope->user);
        s->scope_owner = dup_opt(scope->owner);
        s->scope_repo = dup_opt(scope->repo);
    }
    rt_actor_opts_t o = {.name = "github", .dedicated = true, .capacity = 4096, .batch = 64,
                         .finalizer = gh_sync_finalize};
    s->self = rt_spawn(env->rt, gh_sync_handler, s, &o);
    s->fetch = http_fetch_new(s->self, TAG_HTTP, 1, answered, s);
    rt_timer_start(s->self, 0, (uint64_t)LEASE_S(s) * 1000 / 3, NULL);
    return s->self;
}
