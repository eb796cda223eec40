/*
 * github_sync_pages.c -- the github actor's work on answers: a start's
 * count (confirmation, registration), a page (what is new in it,
 * published), its acknowledgements and checkpoint. See github_sync.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "gh_sync_store.h"
#include "github_sync_internal.h"
#include "log.h"
#include "publisher.h"
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
        gs_answer(j, 200, json_pack("{s:b, s:I, s:f, s:s}", "requires_confirmation", 1, "issue_count",
                                 (json_int_t)count, "estimated_cost_usd", config_sync_cost(cfg, count), "message", msg));
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
                    .cursor = cursor, .lease_owner = s->lease_owner, .lease_s = LEASE_S};
    int rc = syncs_register(c, &n, err, sizeof(err));
    free(cursor);
    if (rc != 0) {
        gs_answer_error(j, rc == -2 ? 409 : 503, rc == -2 ? "sync_in_progress" : "database_unavailable", err);
        gs_job_free(s, j);
        return;
    }
    j->total = count;
    j->st = J_READY;
    log_info("github", "sync %s of %s for %s started: %ld issues on GitHub%s", j->sync_id, j->full, j->user, count,
             j->cur.since[0] ? " (incremental)" : "");
    gs_answer(j, 202, json_pack("{s:s, s:s, s:s, s:I}", "sync_id", j->sync_id, "status", "pending", "repository",
                             j->full, "issue_count", (json_int_t)count));
    j->reply = NULL;
}

/* --- pages ---------------------------------------------------------------- */

void gs_checkpoint(gh_sync_state_t *s, job_t *j)
{
    char err[256];
    PGconn *c = gs_db(s);
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
        gs_job_free(s, j);
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
    gs_finish(s, j, NULL);
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

void gs_paged(gh_sync_state_t *s, job_t *j, bool not_modified)
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
    PGconn *c = gs_db(s);
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
        gs_checkpoint(s, j);
        return;
    }
    gh_page_t p;
    const char *next = NULL;
    char next_url[GH_URL_MAX];
    if (gh_link(s->link, "next", next_url, sizeof(next_url)))
        next = next_url;
    if (gh_page_take(&p, s->body.data ? s->body.data : "", s->body.len, next, &j->next_cur, err, sizeof(err)) != 0) {
        gs_finish(s, j, err);
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
        gs_hold(s, 1000, "database unavailable", false);
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
                gs_finish(s, j, j->ack_err);
            return;   /* the acknowledgements still due end it */
        }
        j->next_n.published++;
    }
    gh_page_free(&p);
    if (j->acks == 0)
        gs_checkpoint(s, j);
}

void gs_on_acked(gh_sync_state_t *s, gh_acked_msg_t *m)
{
    job_t *j = gs_job_find(s, m->sync_id);
    if (j == NULL || j->st != J_PUBLISH || m->seq != j->seq)
        return;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && j->ack_err[0] == '\0')
        snprintf(j->ack_err, sizeof(j->ack_err), "kafka: %s", rd_kafka_err2str(m->err));
    if (--j->acks > 0)
        return;
    if (j->ack_err[0] != '\0')
        gs_finish(s, j, j->ack_err);   /* the page is not checkpointed: a resync takes it again */
    else
        gs_checkpoint(s, j);
}
