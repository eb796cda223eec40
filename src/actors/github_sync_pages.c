/*
 * github_sync_pages.c -- the github actor's work on answers: a start's
 * count (confirmation, registration), a page (what is new in it,
 * published), its acknowledgements and checkpoint. See github_sync.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gh_sync_store.h"
#include "github_sync_internal.h"
#include "log.h"
#include "publisher.h"
#include "sync_event.h"
#include "syncs.h"
#include "uuid.h"

/* --- a start: counted, then registered ----------------------------------- */

void gs_counted(gh_sync_state_t *s, job_t *j)
{
    const config_t *cfg = s->env->cfg;
    json_t *root = json_loadb(s->body.data ? s->body.data : "", s->body.len, 0, NULL);
    json_t *tc = json_object_get(root, "total_count");
    if (!json_is_integer(tc)) {
        json_decref(root);
        gs_answer_error(j, 502, "github_unavailable", "GitHub's search answer had no total_count");
        gs_job_free(s, j);
        return;
    }
    long count = (long)json_integer_value(tc);
    json_decref(root);
    if (count > cfg->large_sync_threshold && !j->force) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%ld issues exceed LARGE_SYNC_THRESHOLD=%d; confirm with ?force=true", count,
                 cfg->large_sync_threshold);
        gs_answer(j, 200,
                  json_pack("{s:b, s:I, s:f, s:s}", "requires_confirmation", 1, "issue_count", (json_int_t)count,
                            "estimated_cost_usd", config_sync_cost(cfg, count), "message", msg));
        gs_job_free(s, j);
        return;
    }
    char err[256], *start = NULL;
    PGconn *c = gs_db(s);
    if (c == NULL || gh_store_repo_get(c, j->full, &start, err, sizeof(err)) != 0) {
        gs_answer_error(j, 503, "database_unavailable", c ? err : "try again");
        gs_job_free(s, j);
        return;
    }
    /* Incremental: from where the repository's last complete sync ended. */
    if (start == NULL || gh_cursor_load(&j->cur, start) != 0)
        gh_cursor_init(&j->cur);
    free(start);
    uuid_v4(j->sync_id);
    char *cursor = gh_cursor_dump(&j->cur);
    sync_new_t n = {.user = j->user, .owner = j->owner, .repo = j->repo, .sync_id = j->sync_id, .total = count,
                    .cursor = cursor, .lease_owner = s->lease_owner, .lease_s = LEASE_S(s)};
    int rc = syncs_register(c, &n, err, sizeof(err));
    free(cursor);
    if (rc != 0) {
        gs_answer_error(j, rc == -2 ? 409 : 503, rc == -2 ? "sync_in_progress" : "database_unavailable", err);
        gs_job_free(s, j);
        return;
    }
    j->total = count;
    j->st = J_RUN;
    gauge_add(&g_metrics.github_syncs, 1);
    gh_cursor_copy(&j->head, &j->cur);
    log_info("github", "sync %s of %s for %s started: %ld issues on GitHub%s", j->sync_id, j->full, j->user, count,
             j->cur.since[0] ? " (incremental)" : "");
    gs_answer(j, 202, json_pack("{s:s, s:s, s:s, s:I}", "sync_id", j->sync_id, "status", "pending", "repository",
                             j->full, "issue_count", (json_int_t)count));
    j->reply = NULL;
}

/* --- pages ---------------------------------------------------------------- */

bool gs_wants_page(const job_t *j)
{
    return j->st == J_RUN && !j->head.done && j->nfl < GH_FLIGHT && !j->save_failed;
}

static void flight_clear(flight_t *f)
{
    gh_cursor_free(&f->after);
    gh_page_free(&f->page);
    free(f->etag);
    memset(f, 0, sizeof(*f));
}

void gs_flights_free(job_t *j)
{
    for (int i = 0; i < j->nfl; i++)
        flight_clear(&j->fl[i]);
    j->nfl = 0;
}

/* The last page is checkpointed: the sync is fetched, and the next sync of
 * the repository starts after its newest issue. */
static void fetched_all(gh_sync_state_t *s, job_t *j, PGconn *c)
{
    char err[256];
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
    gs_finish(s, j, NULL);
}

/* 1: written; 0: the sync was freed (not ours any more); -1: retried later. */
static int checkpoint(gh_sync_state_t *s, job_t *j, flight_t *f)
{
    char err[256];
    PGconn *c = gs_db(s);
    char *cursor = gh_cursor_dump(&f->after);
    gh_counts_t n = j->n;
    n.fetched += f->delta.fetched;
    n.published += f->delta.published;
    n.unchanged += f->delta.unchanged;
    n.prs += f->delta.prs;
    n.pages += f->delta.pages;
    int rc = c ? gh_store_checkpoint(c, j->sync_id, s->lease_owner, LEASE_S(s), cursor, &n, err, sizeof(err)) : -1;
    if (rc < 0) {
        free(cursor);
        log_warn("github", "sync %s: checkpoint not written (%s); retried", j->sync_id, c ? err : "no database");
        j->save_failed = true;   /* the tick tries again */
        return -1;
    }
    j->save_failed = false;
    if (rc == 0) {
        free(cursor);
        log_info("github", "sync %s of %s is no longer this process's to run (cancelled or taken over): fetching "
                 "stopped after %ld pages", j->sync_id, j->full, n.pages);
        gs_job_free(s, j);
        return 0;
    }
    if (f->etag != NULL) {
        json_t *after = json_pack("{s:s, s:i, s:i}", "cursor", cursor, "issues", f->issues, "prs", f->prs);
        char *text = json_dumps(after, JSON_COMPACT);
        if (gh_store_page_put(c, j->full, f->url, f->etag, text, err, sizeof(err)) != 0)
            log_warn("github", "%s", err);
        free(text);
        json_decref(after);
    }
    free(cursor);
    gh_cursor_copy(&j->cur, &f->after);
    j->n = n;
    return 1;
}

void gs_drain(gh_sync_state_t *s, job_t *j)
{
    while (j->nfl > 0 && j->fl[0].acks == 0 && !j->fl[0].to_publish) {
        if (j->fl[0].err[0] != '\0') {
            char why[256];
            snprintf(why, sizeof(why), "%s", j->fl[0].err);
            gs_finish(s, j, why);   /* not checkpointed: a resync takes the page again */
            return;
        }
        if (checkpoint(s, j, &j->fl[0]) <= 0)
            return;
        flight_clear(&j->fl[0]);
        memmove(&j->fl[0], &j->fl[1], (size_t)(j->nfl - 1) * sizeof(j->fl[0]));
        memset(&j->fl[--j->nfl], 0, sizeof(j->fl[0]));
    }
    if (j->nfl == 0 && j->cur.done) {
        PGconn *c = gs_db(s);
        if (c != NULL)
            fetched_all(s, j, c);
        else
            j->save_failed = true;   /* the tick tries again */
    }
}

static void acked(void *ctx, rd_kafka_resp_err_t err)
{
    gh_acked_msg_t *m = ctx;
    m->err = err;
    rt_send_force(m->to, m);
}

/* One issue version to issues.raw, as `dispatchd sync --from` publishes it. */
static bool publish(gh_sync_state_t *s, job_t *j, flight_t *f, const gh_item_t *it, char *err, size_t errlen)
{
    sync_event_t ev;
    if (sync_event_make(&ev, it->issue, j->owner, j->repo, j->user, err, errlen) != 0)
        return false;
    gh_acked_msg_t *m = rt_msg_new(sizeof(*m), MSG_GH_ACKED);
    snprintf(m->sync_id, sizeof(m->sync_id), "%s", j->sync_id);
    m->seq = f->seq;
    m->to = s->self;
    external_ack_t *ack = rt_msg_new(sizeof(*ack), MSG_EXTERNAL_ACK);
    ack->done = acked;
    ack->ctx = m;
    const actor_env_t *env = s->env;
    rd_kafka_resp_err_t e = sync_event_produce(env->producer, env->cfg->topic_raw, &ev, j->sync_id, j->user, ack);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "kafka: produce: %s", rd_kafka_err2str(e));
        sync_event_free(&ev);
        rt_msg_free(ack);
        rt_msg_free(m);
        return false;
    }
    f->acks++;
    metric_add(&g_metrics.github_issues_published, 1);
    return true;
}

/* A 304: the page is as a sync took it; it leads where it led then. */
static bool unchanged(gh_sync_state_t *s, job_t *j, flight_t *f)
{
    char err[256], *etag = NULL, *after = NULL;
    json_t *a = NULL;
    PGconn *c = gs_db(s);
    if (c != NULL && gh_store_page_get(c, j->full, f->url, &etag, &after, err, sizeof(err)) == 0 && after)
        a = json_loads(after, 0, NULL);
    free(etag);
    free(after);
    const char *cur = json_string_value(json_object_get(a, "cursor"));
    bool ok = cur != NULL && gh_cursor_load(&f->after, cur) == 0;
    f->issues = (int)json_integer_value(json_object_get(a, "issues"));
    f->prs = (int)json_integer_value(json_object_get(a, "prs"));
    json_decref(a);
    f->delta.fetched += f->issues;
    f->delta.unchanged += f->issues;
    f->delta.prs += f->prs;
    return ok;
}

/* The page's issues: those stored in that version already are not
 * published again (those this sync stored before a restart count as
 * published); the others are. false: the database did not answer. */
static bool publish_new(gh_sync_state_t *s, job_t *j, flight_t *f, gh_page_t *p)
{
    char err[256];
    long long ids[p->n > 0 ? p->n : 1], stored[p->n > 0 ? p->n : 1];
    bool mine[p->n > 0 ? p->n : 1];
    for (int i = 0; i < p->n; i++)
        ids[i] = p->items[i].id;
    PGconn *c = gs_db(s);
    if (p->n > 0 && (c == NULL || gh_store_known(c, ids, p->n, j->sync_id, stored, mine, err, sizeof(err)) != 0)) {
        log_warn("github", "sync %s: %s; the page is published later", j->sync_id, c ? err : "no database");
        return false;
    }
    for (int i = 0; i < p->n; i++) {
        if (stored[i] == p->items[i].updated_ms) {
            if (mine[i])
                f->delta.published++;
            else
                f->delta.unchanged++;
            continue;
        }
        if (!publish(s, j, f, &p->items[i], f->err, sizeof(f->err)))
            break;   /* the sync fails once the page's acknowledgements are in */
        f->delta.published++;
    }
    return true;
}

void gs_paged(gh_sync_state_t *s, job_t *j, bool not_modified)
{
    char err[256];
    flight_t *f = &j->fl[j->nfl];
    memset(f, 0, sizeof(*f));
    f->seq = ++j->seq;
    snprintf(f->url, sizeof(f->url), "%s", j->url);
    f->etag = s->etag[0] ? strdup(s->etag) : NULL;
    gh_cursor_copy(&f->after, &j->head);
    f->delta.pages = 1;
    metric_add(&g_metrics.github_pages, 1);
    if (not_modified) {
        if (!unchanged(s, j, f)) {
            /* Where it led is lost: forget the ETag, fetch it whole. */
            flight_clear(f);
            PGconn *c = gs_db(s);
            if (c != NULL)
                gh_store_page_put(c, j->full, j->url, "", "{}", err, sizeof(err));
            return;
        }
    } else {
        const char *next = NULL;
        char next_url[GH_URL_MAX];
        if (gh_link(s->link, "next", next_url, sizeof(next_url)))
            next = next_url;
        if (gh_page_take(&f->page, s->body.data ? s->body.data : "", s->body.len, next, &f->after, err,
                         sizeof(err)) != 0) {
            flight_clear(f);
            gs_finish(s, j, err);
            return;
        }
        gh_page_t *p = &f->page;
        f->issues = p->issues - p->repeats;   /* the instant's repeats were counted on their first page */
        f->prs = p->prs;
        f->delta.fetched = f->issues;
        f->delta.prs = p->prs;
        f->to_publish = true;
        if (p->invalid > 0)
            log_warn("github", "sync %s: %d objects of a page of %s were not issues (no id, number or updated_at)",
                     j->sync_id, p->invalid, j->full);
    }
    j->nfl++;
    gh_cursor_copy(&j->head, &f->after);
    if (!f->to_publish)
        gs_drain(s, j);
}

void gs_publish_taken(gh_sync_state_t *s)
{
    for (job_t *j = s->jobs, *next; j; j = next) {
        next = j->next;   /* gs_drain may end j */
        bool any = false;
        for (int i = 0; i < j->nfl; i++) {
            flight_t *f = &j->fl[i];
            if (!f->to_publish)
                continue;
            if (!publish_new(s, j, f, &f->page))
                break;   /* the database: the tick tries again */
            f->to_publish = false;
            gh_page_free(&f->page);
            any = true;
        }
        if (any)
            gs_drain(s, j);
    }
}

void gs_on_acked(gh_sync_state_t *s, gh_acked_msg_t *m)
{
    job_t *j = gs_job_find(s, m->sync_id);
    for (int i = 0; j != NULL && i < j->nfl; i++) {
        flight_t *f = &j->fl[i];
        if (f->seq != m->seq)
            continue;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && f->err[0] == '\0')
            snprintf(f->err, sizeof(f->err), "kafka: %s", rd_kafka_err2str(m->err));
        if (--f->acks == 0 && i == 0)
            gs_drain(s, j);
        return;
    }
}
