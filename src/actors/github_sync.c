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
#include "github_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "gh_page.h"
#include "gh_rules.h"
#include "gh_sync_store.h"
#include "http_fetch.h"
#include "log.h"
#include "publisher.h"
#include "schema.h"
#include "syncs.h"
#include "uuid.h"

#define LEASE_S 15                /* a sync whose process is silent this long is taken over */
#define TICK_MS 5000              /* lease renewals, takeovers, checkpoints to retry */
#define REQUEST_TIMEOUT_MS 30000
#define TAG_HTTP 1                /* and TAG_HTTP + 1: http_fetch's watches */
#define MAX_CLAIM 16
#define START_WAIT_MAX_MS 5000    /* a start waiting longer for the token is answered 503 */

enum { MSG_GH_ACKED = MSG_GH_SYNC_START + 1 };

typedef struct gh_acked_msg {
    rt_msg_t hdr;
    rt_actor_t *to;               /* the actor, from the producer's thread */
    char sync_id[64];
    int seq;
    rd_kafka_resp_err_t err;
} gh_acked_msg_t;

typedef enum {
    J_COUNT,                      /* to count (a start request) */
    J_READY,                      /* to fetch its next page */
    J_PUBLISH,                    /* a page's events on their way to Kafka */
    J_SAVE,                       /* the page is in Kafka; its checkpoint is to be written */
} job_state_t;

typedef struct job {
    struct job *next;
    job_state_t st;
    char sync_id[64], user[256], owner[128], repo[128], full[260];
    long total;
    gh_cursor_t cur, next_cur;    /* checkpointed; after the page in hand */
    gh_counts_t n, next_n;
    gh_retry_t retry;
    int seq, acks;                /* the page in hand and its acknowledgements still due */
    char ack_err[256];
    char url[GH_URL_MAX];         /* the page in hand's request */
    char *etag;                   /* its ETag (NULL: none) */
    int page_issues, page_prs;
    bool force;                   /* J_COUNT: the start request */
    void (*reply)(void *ctx, int status, const char *json);
    void *ctx;
} job_t;

typedef struct gh_sync_state {
    const actor_env_t *env;
    rt_actor_t *self;
    http_fetch_t *fetch;
    PGconn *db;
    char lease_owner[37];
    char *scope_user, *scope_owner, *scope_repo;
    job_t *jobs;
    job_t *asking;                /* whose request is in flight */
    strbuf_t body;
    gh_answer_t ans;
    char etag[256], link[2 * GH_URL_MAX];
    struct curl_slist *headers;
    uint64_t not_before;          /* rt_now_ms: nothing is sent before */
    uint64_t wake_timer;
    uint64_t rng;
    int ticks;
} gh_sync_state_t;

static PGconn *db(gh_sync_state_t *s)
{
    char err[256];
    if (s->db != NULL && PQstatus(s->db) != CONNECTION_OK) {
        PQfinish(s->db);
        s->db = NULL;
    }
    if (s->db == NULL && (s->db = pg_connect(s->env->cfg->database_url, err, sizeof(err))) == NULL)
        log_warn("github", "%s", err);
    return s->db;
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
    gh_cursor_init(&j->next_cur);
    job_t **p = &s->jobs;   /* at the tail: requests go round the jobs in order */
    while (*p)
        p = &(*p)->next;
    *p = j;
    return j;
}

static void job_free(gh_sync_state_t *s, job_t *j)
{
    for (job_t **p = &s->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    if (s->asking == j)
        s->asking = NULL;   /* its answer, when it comes, is dropped */
    gh_cursor_free(&j->cur);
    gh_cursor_free(&j->next_cur);
    free(j->etag);
    free(j);
}

static job_t *job_find(gh_sync_state_t *s, const char *sync_id)
{
    for (job_t *j = s->jobs; j; j = j->next)
        if (j->st != J_COUNT && strcmp(j->sync_id, sync_id) == 0)
            return j;
    return NULL;
}

static void answer(job_t *j, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    j->reply(j->ctx, status, text);
    free(text);
    json_decref(body);
}

static void answer_error(job_t *j, int status, const char *error, const char *detail)
{
    answer(j, status, json_pack("{s:s, s:s}", "error", error, "detail", detail));
}

/* The sync ends: completed (or syncing until storage has every event),
 * or failed with the reason. */
static void finish(gh_sync_state_t *s, job_t *j, const char *failure)
{
    char err[256];
    PGconn *c = db(s);
    if (c == NULL || syncs_published(c, j->sync_id, j->n.published, failure, err, sizeof(err)) != 0) {
        log_warn("github", "sync %s not ended (%s): the lease runs out and it is taken over", j->sync_id,
                 c ? err : "no database");
    } else if (failure) {
        log_warn("github", "sync %s of %s failed: %s", j->sync_id, j->full, failure);
    } else {
        log_info("github", "sync %s of %s fetched: %ld pages, %ld issues (%ld published, %ld unchanged), %ld pull "
                 "requests skipped, %ld rate-limit waits", j->sync_id, j->full, j->n.pages, j->n.fetched,
                 j->n.published, j->n.unchanged, j->n.prs, j->n.waits);
    }
    job_free(s, j);
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
    const char *names[2] = {"etag:", "link:"};
    char *dst[2] = {s->etag, s->link};
    size_t cap[2] = {sizeof(s->etag), sizeof(s->link)};
    for (int i = 0; i < 2; i++) {
        size_t k = strlen(names[i]);
        if (len <= k || strncasecmp(line, names[i], k) != 0)
            continue;
        const char *v = line + k;
        size_t n = len - k;
        while (n > 0 && (*v == ' ' || *v == '\t'))
            v++, n--;
        while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
            n--;
        snprintf(dst[i], cap[i], "%.*s", (int)(n < cap[i] ? n : cap[i] - 1), v);
    }
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
    const char *api = s->env->cfg->github_api_url;
    size_t alen = strlen(api);
    while (alen > 0 && api[alen - 1] == '/')
        alen--;
    char url[GH_URL_MAX];
    snprintf(url, sizeof(url), "%.*s/search/issues?q=repo:%s/%s+is:issue&per_page=1", (int)alen, api, j->owner,
             j->repo);
    ask(s, j, url, NULL);
}

static void ask_page(gh_sync_state_t *s, job_t *j)
{
    char err[256];
    if (gh_cursor_url(&j->cur, s->env->cfg->github_api_url, j->owner, j->repo, j->url, sizeof(j->url)) != 0) {
        finish(s, j, "the next page's URL is too long");
        return;
    }
    /* A page fetched before answers 304 (no quota) if it did not change. */
    char *etag = NULL, *after = NULL;
    PGconn *c = db(s);
    if (c != NULL && gh_store_page_get(c, j->full, j->url, &etag, &after, err, sizeof(err)) != 0)
        log_warn("github", "%s", err);
    free(after);
    ask(s, j, j->url, etag);
    free(etag);
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
        answer(j, 503, json_pack("{s:s, s:s, s:I}", "error", "github_rate_limited", "detail",
                                 "GitHub's limits hold every request of this process for now", "retry_after_s",
                                 (json_int_t)((wait_ms + 999) / 1000)));
        job_free(s, j);
    }
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
        if (j->st != J_COUNT && j->st != J_READY)
            continue;
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
        if (j->st == J_COUNT)
            ask_count(s, j);
        else
            ask_page(s, j);
        return;
    }
}

/* Nothing is sent for wait_ms; the syncs waiting on the token show why
 * and until when. */
static void hold(gh_sync_state_t *s, uint64_t wait_ms, const char *reason, bool rate_limit)
{
    s->not_before = rt_now_ms() + wait_ms;
    if (wait_ms < 1000)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long until = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (long long)wait_ms;
    log_info("github", "%s: nothing sent for %.1f s", reason, (double)wait_ms / 1000.0);
    PGconn *c = db(s);
    char err[256];
    for (job_t *j = s->jobs; j && c; j = j->next) {
        if (j->st == J_COUNT)
            continue;
        j->n.waits += rate_limit;
        j->next_n.waits += rate_limit;
        if (gh_store_wait(c, j->sync_id, s->lease_owner, LEASE_S, until, reason, rate_limit, err, sizeof(err)) < 0)
            log_warn("github", "%s", err);
    }
}

/* --- a start: counted, then registered ----------------------------------- */

static void counted(gh_sync_state_t *s, job_t *j)
{
    const config_t *cfg = s->env->cfg;
    json_t *root = json_loadb(s->body.data ? s->body.data : "", s->body.len, 0, NULL);
    json_t *tc = json_object_get(root, "total_count");
    if (!json_is_integer(tc)) {
        json_decref(root);
        answer_error(j, 502, "github_unavailable", "GitHub's search answer had no total_count");
        job_free(s, j);
        return;
    }
    long count = (long)json_integer_value(tc);
    json_decref(root);
    if (count > cfg->large_sync_threshold && !j->force) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%ld issues exceed LARGE_SYNC_THRESHOLD=%d; confirm with ?force=true", count,
                 cfg->large_sync_threshold);
        answer(j, 200, json_pack("{s:b, s:I, s:f, s:s}", "requires_confirmation", 1, "issue_count",
                                 (json_int_t)count, "estimated_cost_usd", config_sync_cost(cfg, count), "message", msg));
        job_free(s, j);
        return;
    }
    char err[256], *start = NULL;
    PGconn *c = db(s);
    if (c == NULL || gh_store_repo_get(c, j->full, &start, err, sizeof(err)) != 0) {
        answer_error(j, 503, "database_unavailable", c ? err : "try again");
        job_free(s, j);
        return;
    }
    /* Incremental: from where the repository's last complete sync ended. */
    if (start == NULL || gh_cursor_load(&j->cur, start) != 0)
        gh_cursor_init(&j->cur);
    free(start);
    uuid_v4(j->sync_id);
    char *cursor = gh_cursor_dump(&j->cur);
    sync_new_t n = {.user = j->user, .owner = j->owner, .repo = j->repo, .sync_id = j->sync_id, .total = count,
                    .cursor = cursor, .lease_owner = s->lease_owner, .lease_s = LEASE_S};
    int rc = syncs_register(c, &n, err, sizeof(err));
    free(cursor);
    if (rc != 0) {
        answer_error(j, rc == -2 ? 409 : 503, rc == -2 ? "sync_in_progress" : "database_unavailable", err);
        job_free(s, j);
        return;
    }
    j->total = count;
    j->st = J_READY;
    log_info("github", "sync %s of %s for %s started: %ld issues on GitHub%s", j->sync_id, j->full, j->user, count,
             j->cur.since[0] ? " (incremental)" : "");
    answer(j, 202, json_pack("{s:s, s:s, s:s, s:I}", "sync_id", j->sync_id, "status", "pending", "repository",
                             j->full, "issue_count", (json_int_t)count));
    j->reply = NULL;
}

/* --- pages ---------------------------------------------------------------- */

static void checkpoint(gh_sync_state_t *s, job_t *j)
{
    char err[256];
    PGconn *c = db(s);
    char *cursor = gh_cursor_dump(&j->next_cur);
    int rc = c ? gh_store_checkpoint(c, j->sync_id, s->lease_owner, LEASE_S, cursor, &j->next_n, err, sizeof(err))
               : -1;
    if (rc < 0) {
        free(cursor);
        log_warn("github", "sync %s: checkpoint not written (%s); retried", j->sync_id, c ? err : "no database");
        j->st = J_SAVE;   /* the tick tries again */
        return;
    }
    if (rc == 0) {
        free(cursor);
        log_info("github", "sync %s of %s is no longer this process's to run (cancelled or taken over): fetching "
                 "stopped after %ld pages", j->sync_id, j->full, j->next_n.pages);
        job_free(s, j);
        return;
    }
    if (j->etag != NULL) {
        json_t *after = json_pack("{s:s, s:i, s:i}", "cursor", cursor, "issues", j->page_issues, "prs", j->page_prs);
        char *text = json_dumps(after, JSON_COMPACT);
        if (gh_store_page_put(c, j->full, j->url, j->etag, text, err, sizeof(err)) != 0)
            log_warn("github", "%s", err);
        free(text);
        json_decref(after);
    }
    free(cursor);
    gh_cursor_copy(&j->cur, &j->next_cur);
    j->n = j->next_n;
    if (!j->cur.done) {
        j->st = J_READY;
        return;
    }
    /* The next sync of the repository starts after the newest issue. */
    gh_cursor_t next;
    gh_cursor_init(&next);
    gh_cursor_copy(&next, &j->cur);
    next.done = false;
    next.next_url[0] = '\0';
    char *text = gh_cursor_dump(&next);
    if (gh_store_repo_put(c, j->full, text, j->sync_id, err, sizeof(err)) != 0)
        log_warn("github", "%s", err);
    free(text);
    gh_cursor_free(&next);
    finish(s, j, NULL);
}

static void acked(void *ctx, rd_kafka_resp_err_t err)
{
    gh_acked_msg_t *m = ctx;
    m->err = err;
    rt_send_force(m->to, m);
}

/* One issue version to issues.raw, as `dispatchd sync --from` publishes it. */
static bool publish(gh_sync_state_t *s, job_t *j, const gh_item_t *it, char *err, size_t errlen)
{
    json_t *ev = issue_event_wrap(it->issue, j->owner, j->repo, j->user, err, errlen);
    if (ev == NULL)
        return false;
    char *value = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    char key[300], corr[37];
    snprintf(key, sizeof(key), "%s:issue:%lld", j->full, it->number);
    uuid_v4(corr);
    gh_acked_msg_t *m = rt_msg_new(sizeof(*m), MSG_GH_ACKED);
    snprintf(m->sync_id, sizeof(m->sync_id), "%s", j->sync_id);
    m->seq = j->seq;
    m->to = s->self;
    external_ack_t *ack = rt_msg_new(sizeof(*ack), MSG_EXTERNAL_ACK);
    ack->done = acked;
    ack->ctx = m;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        s->env->producer, RD_KAFKA_V_TOPIC(s->env->cfg->topic_raw), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
        RD_KAFKA_V_HEADER("sync_id", j->sync_id, -1), RD_KAFKA_V_HEADER("user_id", j->user, -1),
        RD_KAFKA_V_HEADER("correlation_id", corr, -1), RD_KAFKA_V_OPAQUE(ack), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka: produce: %s", rd_kafka_err2str(e));
        free(value);
        rt_msg_free(ack);
        rt_msg_free(m);
        return false;
    }
    j->acks++;
    return true;
}

static void paged(gh_sync_state_t *s, job_t *j, bool not_modified)
{
    char err[256];
    gh_cursor_copy(&j->next_cur, &j->cur);
    j->next_n = j->n;
    j->next_n.pages++;
    free(j->etag);
    j->etag = s->etag[0] ? strdup(s->etag) : NULL;
    j->seq++;
    j->acks = 0;
    j->ack_err[0] = '\0';
    PGconn *c = db(s);
    if (not_modified) {
        /* Unchanged since a sync took it: where it led then. */
        char *etag = NULL, *after = NULL;
        json_t *a = NULL;
        if (c != NULL && gh_store_page_get(c, j->full, j->url, &etag, &after, err, sizeof(err)) == 0 && after)
            a = json_loads(after, 0, NULL);
        free(etag);
        free(after);
        const char *cur = json_string_value(json_object_get(a, "cursor"));
        if (cur == NULL || gh_cursor_load(&j->next_cur, cur) != 0) {
            json_decref(a);
            free(j->etag);   /* forget the ETag: the page is fetched whole next time */
            j->etag = NULL;
            j->st = J_READY;
            return;
        }
        j->page_issues = (int)json_integer_value(json_object_get(a, "issues"));
        j->page_prs = (int)json_integer_value(json_object_get(a, "prs"));
        json_decref(a);
        j->next_n.fetched += j->page_issues;
        j->next_n.unchanged += j->page_issues;
        j->next_n.prs += j->page_prs;
        checkpoint(s, j);
        return;
    }
    gh_page_t p;
    const char *next = NULL;
    char next_url[GH_URL_MAX];
    if (gh_link(s->link, "next", next_url, sizeof(next_url)))
        next = next_url;
    if (gh_page_take(&p, s->body.data ? s->body.data : "", s->body.len, next, &j->next_cur, err, sizeof(err)) != 0) {
        finish(s, j, err);
        return;
    }
    j->page_issues = p.issues - p.repeats;
    j->page_prs = p.prs;
    j->next_n.fetched += p.issues - p.repeats;   /* the instant's repeats were counted on their first page */
    j->next_n.prs += p.prs;
    if (p.invalid > 0)
        log_warn("github", "sync %s: %d objects of a page of %s were not issues (no id, number or updated_at)",
                 j->sync_id, p.invalid, j->full);
    /* Versions already stored are not published again; those this sync
     * stored before a restart count as published. */
    long long ids[p.n > 0 ? p.n : 1], stored[p.n > 0 ? p.n : 1];
    bool mine[p.n > 0 ? p.n : 1];
    for (int i = 0; i < p.n; i++)
        ids[i] = p.items[i].id;
    if (p.n > 0 && (c == NULL || gh_store_known(c, ids, p.n, j->sync_id, stored, mine, err, sizeof(err)) != 0)) {
        gh_page_free(&p);
        log_warn("github", "sync %s: %s; the page is fetched again", j->sync_id, c ? err : "no database");
        j->st = J_READY;
        hold(s, 1000, "database unavailable", false);
        return;
    }
    j->st = J_PUBLISH;
    for (int i = 0; i < p.n; i++) {
        if (stored[i] == p.items[i].updated_ms) {
            if (mine[i])
                j->next_n.published++;
            else
                j->next_n.unchanged++;
            continue;
        }
        if (!publish(s, j, &p.items[i], err, sizeof(err))) {
            gh_page_free(&p);
            snprintf(j->ack_err, sizeof(j->ack_err), "%s", err);
            if (j->acks == 0)
                finish(s, j, j->ack_err);
            return;   /* the acknowledgements still due end it */
        }
        j->next_n.published++;
    }
    gh_page_free(&p);
    if (j->acks == 0)
        checkpoint(s, j);
}

static void on_acked(gh_sync_state_t *s, gh_acked_msg_t *m)
{
    job_t *j = job_find(s, m->sync_id);
    if (j == NULL || j->st != J_PUBLISH || m->seq != j->seq)
        return;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && j->ack_err[0] == '\0')
        snprintf(j->ack_err, sizeof(j->ack_err), "kafka: %s", rd_kafka_err2str(m->err));
    if (--j->acks > 0)
        return;
    if (j->ack_err[0] != '\0')
        finish(s, j, j->ack_err);   /* the page is not checkpointed: a resync takes it again */
    else
        checkpoint(s, j);
}

static void answered(void *ctx, void *call, const http_result_t *res)
{
    (void)call;
    gh_sync_state_t *s = ctx;
    job_t *j = s->asking;
    s->asking = NULL;
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    if (j == NULL) {   /* cancelled meanwhile */
        pump(s);
        return;
    }
    s->ans.status = res->transport_ok ? res->status : 0;
    uint64_t wait_ms = 0;
    char reason[200];
    gh_verdict_t v = gh_judge(&s->ans, (int64_t)time(NULL), &j->retry, &s->rng, &wait_ms, reason, sizeof(reason));
    bool limited = s->ans.status == 403 || s->ans.status == 429 || s->ans.remaining == 0;
    if (!res->transport_ok)
        log_warn("github", "%s: %s", j->full, res->error);
    if (v == GH_RETRY && j->st == J_COUNT) {
        /* A start is answered now, not after GitHub's wait. */
        json_t *b = json_pack("{s:s, s:s, s:I}", "error", limited ? "github_rate_limited" : "github_unavailable",
                              "detail", reason, "retry_after_s", (json_int_t)((wait_ms + 999) / 1000));
        answer(j, 503, b);
        job_free(s, j);
    } else if (v == GH_GIVE_UP) {
        if (j->st == J_COUNT) {
            long st = s->ans.status;
            answer_error(j, st == 404 || st == 422 ? 404 : 502, st == 404 || st == 422 ? "not_found" : "github_unavailable",
                         reason);
            job_free(s, j);
        } else {
            finish(s, j, reason);
        }
    } else if (v == GH_GO) {
        if (j->st == J_COUNT)
            counted(s, j);
        else
            paged(s, j, s->ans.status == 304);
    }
    if (wait_ms > 0)
        hold(s, wait_ms, reason, limited);
    pump(s);
}

/* --- the lease ------------------------------------------------------------ */

static void take_over(gh_sync_state_t *s)
{
    PGconn *c = db(s);
    if (c == NULL || env_stopping(s->env))
        return;
    gh_claimed_t got[MAX_CLAIM];
    char err[256];
    int n = gh_store_claim(c, s->lease_owner, LEASE_S, s->scope_user, s->scope_owner, s->scope_repo, got, MAX_CLAIM,
                           err, sizeof(err));
    if (n < 0)
        log_warn("github", "%s", err);
    for (int i = 0; i < n; i++) {
        job_t *j = job_new(s, got[i].user, got[i].owner, got[i].repo);
        memcpy(j->sync_id, got[i].sync_id, sizeof(j->sync_id));
        j->total = got[i].total;
        j->n = got[i].counts;
        if (got[i].cursor == NULL || gh_cursor_load(&j->cur, got[i].cursor) != 0)
            gh_cursor_init(&j->cur);
        free(got[i].cursor);
        j->st = J_READY;
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
    PGconn *c = db(s);
    if (c == NULL || gh_store_renew(c, s->lease_owner, LEASE_S, ids, n, gone, err, sizeof(err)) != 0) {
        if (c)
            log_warn("github", "%s", err);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (gone[i]) {
            log_info("github", "sync %s of %s ended elsewhere (cancelled): fetching stopped", jobs[i]->sync_id,
                     jobs[i]->full);
            job_free(s, jobs[i]);
        } else if (jobs[i]->st == J_SAVE) {
            checkpoint(s, jobs[i]);
        }
    }
}

/* --- the actor ------------------------------------------------------------ */

static void start(gh_sync_state_t *s, gh_sync_start_msg_t *m)
{
    for (job_t *j = s->jobs; j; j = j->next) {
        if (j->st != J_COUNT && strcmp(j->user, m->user) == 0 && strcmp(j->owner, m->owner) == 0 &&
            strcmp(j->repo, m->repo) == 0) {
            /* Already running here (resumed): that is the sync. */
            char *text = NULL;
            json_t *b = json_pack("{s:s, s:s, s:s, s:b}", "sync_id", j->sync_id, "status", "syncing", "repository",
                                  j->full, "resumed", 1);
            text = json_dumps(b, JSON_COMPACT);
            m->reply(m->ctx, 202, text);
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
        on_acked(s, (gh_acked_msg_t *)msg);
        break;
    case RT_MSG_IO:
        http_fetch_io(s->fetch, (rt_io_msg_t *)msg);
        break;
    case RT_MSG_TIMER:
        if (((rt_timer_msg_t *)msg)->arg == NULL) {   /* the tick */
            renew(s);
            if (++s->ticks % 3 == 1)
                take_over(s);
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
    curl_slist_free_all(s->headers);
    while (s->jobs) {
        job_t *j = s->jobs;
        if (j->st == J_COUNT)
            answer_error(j, 503, "stopping", "the process is stopping");
        job_free(s, j);
    }
    sb_free(&s->body);
    if (s->db != NULL) {
        gh_store_release(s->db, s->lease_owner);
        PQfinish(s->db);
    }
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
    rt_timer_start(s->self, 0, TICK_MS, NULL);
    return s->self;
}
