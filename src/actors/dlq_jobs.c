/*
 * dlq_jobs.c -- the DLQ actor (see dlq_jobs.h): its jobs, one running at
 * a time, their answers (a replay that outlasts its answer time is
 * answered with its job, whose progress can be asked), the handler. The
 * reading is dlq_reader.c's, a replay's sending dlq_replay.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq_jobs_internal.h"
#include "log.h"
#include "uuid.h"

static json_t *job_json(const job_t *j)
{
    static const char *const status[] = {"waiting", "running", "done", "failed"};
    json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:s}", "job_id", j->id, "status",
                          status[j->status], "dry_run", j->f.dry_run, "scanned", (json_int_t)j->scanned, "matched",
                          (json_int_t)j->matched, "replayed", (json_int_t)j->replayed, "already_replayed",
                          (json_int_t)j->already, "skipped_truncated", (json_int_t)j->truncated_skipped,
                          "started_at", j->started_at);
    if (j->f.dry_run)
        json_object_set_new(o, "would_replay", json_integer(j->matched - j->already - j->truncated_skipped));
    if (j->send_failed)
        json_object_set_new(o, "send_failed", json_integer(j->send_failed));
    if (j->finished_at[0])
        json_object_set_new(o, "finished_at", json_string(j->finished_at));
    if (j->error[0])
        json_object_set_new(o, "error", json_string(j->error));
    if (j->f.limit > 0)
        json_object_set_new(o, "limit_reached", json_boolean(j->limit_reached));
    return o;
}

static void answer(job_t *j, int status, json_t *o)
{
    if (j->reply == NULL) {
        json_decref(o);
        return;
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    j->reply(j->ctx, status, s);
    free(s);
    j->reply = NULL;
}

static void answer_job(job_t *j)
{
    if (j->status == JOB_FAILED) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "error", "dlq_unavailable", "detail", j->error, "job_id", j->id);
        answer(j, 503, o);
    } else if (j->kind == DLQ_LIST) {
        json_t *o = json_pack("{s:O, s:I, s:I, s:b}", "records", j->records, "count",
                              (json_int_t)json_array_size(j->records), "scanned", (json_int_t)j->scanned, "truncated",
                              j->limit_reached);
        answer(j, 200, o);
    } else {
        answer(j, j->status == JOB_DONE ? 200 : 202, job_json(j));
    }
}

static void job_free(job_t *j)
{
    json_decref(j->records);
    free(j);
}

static void start_next(dlq_jobs_state_t *s);

/* The running job ends: answered if its request still waits, kept for
 * progress queries. */
void dlq_job_finish(dlq_jobs_state_t *s, const char *error)
{
    job_t *j = s->running;
    dlq_reader_close(s);
    if (error != NULL) {
        j->status = JOB_FAILED;
        snprintf(j->error, sizeof(j->error), "%s", error);
        log_warn("dlq", "job %s failed: %s", j->id, error);
    } else {
        j->status = JOB_DONE;
        if (j->kind == DLQ_REPLAY)
            log_info("dlq", "replay %s%s: %ld matched, %ld replayed, %ld replayed before, %ld truncated (not "
                     "replayed)", j->id, j->f.dry_run ? " (dry run)" : "", j->matched, j->replayed, j->already,
                     j->truncated_skipped);
    }
    iso8601_now(j->finished_at, sizeof(j->finished_at));
    answer_job(j);
    s->running = NULL;
    if (j->kind == DLQ_LIST) {
        job_free(j);
    } else {
        if (s->nkept == JOBS_KEPT) {
            job_free(s->kept[0]);
            memmove(s->kept, s->kept + 1, (JOBS_KEPT - 1) * sizeof(s->kept[0]));
            s->nkept--;
        }
        s->kept[s->nkept++] = j;
    }
    start_next(s);
}

static void start_next(dlq_jobs_state_t *s)
{
    while (s->running == NULL && s->nwaiting > 0) {
        job_t *j = s->waiting[0];
        memmove(s->waiting, s->waiting + 1, (size_t)(s->nwaiting - 1) * sizeof(s->waiting[0]));
        s->nwaiting--;
        s->running = j;
        j->status = JOB_RUNNING;
        iso8601_now(j->started_at, sizeof(j->started_at));
        s->parts_left = 0;
        s->failing[0] = '\0';
        char err[300];
        if (dlq_reader_open(s, err, sizeof(err)) != 0) {
            dlq_job_finish(s, err);
            continue;
        }
        dlq_read_some(s);
    }
}

static job_t *kept_job(dlq_jobs_state_t *s, const char *id)
{
    if (s->running != NULL && strcmp(s->running->id, id) == 0)
        return s->running;
    for (int i = 0; i < s->nwaiting; i++)
        if (strcmp(s->waiting[i]->id, id) == 0)
            return s->waiting[i];
    for (int i = 0; i < s->nkept; i++)
        if (strcmp(s->kept[i]->id, id) == 0)
            return s->kept[i];
    return NULL;
}

static void on_request(dlq_jobs_state_t *s, dlq_request_msg_t *r)
{
    if (r->kind == DLQ_JOB_STATUS) {
        job_t *j = kept_job(s, r->job_id);
        json_t *o = j ? job_json(j) : json_pack("{s:s, s:s}", "error", "not_found", "detail", "no such replay job");
        char *txt = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        r->reply(r->ctx, j ? 200 : 404, txt);
        free(txt);
        return;
    }
    if (s->nwaiting == JOBS_WAITING) {
        r->reply(r->ctx, 429, "{\"error\":\"busy\",\"detail\":\"too many DLQ jobs waiting; try again later\"}");
        return;
    }
    job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    uuid_v4(j->id);
    j->kind = r->kind;
    j->f = r->filter;
    if (j->kind == DLQ_LIST && j->f.limit == 0)
        j->f.limit = DLQ_LIST_DEFAULT_LIMIT;
    j->records = json_array();
    j->reply = r->reply;
    j->ctx = r->ctx;
    j->answer_by_ms = r->kind == DLQ_REPLAY ? rt_now_ms() + (uint64_t)r->answer_within_ms : 0;
    s->waiting[s->nwaiting++] = j;
    start_next(s);
}

/* A replay still running at its answer time is answered with its job. */
static void answer_late(dlq_jobs_state_t *s)
{
    uint64_t now = rt_now_ms();
    job_t *js[JOBS_WAITING + 1];
    int n = 0;
    if (s->running != NULL)
        js[n++] = s->running;
    for (int i = 0; i < s->nwaiting; i++)
        js[n++] = s->waiting[i];
    for (int i = 0; i < n; i++)
        if (js[i]->reply != NULL && js[i]->kind == DLQ_REPLAY && now >= js[i]->answer_by_ms)
            answer_job(js[i]);
}

static void dlq_jobs_handler(rt_actor_t *self, rt_msg_t *msg)
{
    dlq_jobs_state_t *s = rt_actor_state(self);
    switch (msg->type) {
    case MSG_DLQ_REQUEST:
        on_request(s, (dlq_request_msg_t *)msg);
        break;
    case MSG_DLQ_POLL:
        kafka_wake_reading(&s->wake);
        dlq_read_some(s);
        break;
    case MSG_DLQ_ACKED:
        dlq_replay_acked(s, ((dlq_acked_msg_t *)msg)->batch);
        break;
    case RT_MSG_TIMER:
        dlq_read_some(s);
        answer_late(s);
        break;
    default:
        break;
    }
    rt_msg_free(msg);
}

static void dlq_jobs_finalize(rt_actor_t *self)
{
    dlq_jobs_state_t *s = rt_actor_state(self);
    if (s->running != NULL) {
        snprintf(s->running->error, sizeof(s->running->error), "stopped");
        s->running->status = JOB_FAILED;
        answer_job(s->running);
        job_free(s->running);
    }
    dlq_reader_close(s);
    for (int i = 0; i < s->nsent; i++)
        free(s->sent[i]);
    for (int i = 0; i < s->nwaiting; i++) {
        s->waiting[i]->status = JOB_FAILED;
        snprintf(s->waiting[i]->error, sizeof(s->waiting[i]->error), "stopped");
        answer_job(s->waiting[i]);
        job_free(s->waiting[i]);
    }
    for (int i = 0; i < s->nkept; i++)
        job_free(s->kept[i]);
    if (s->db != NULL)
        PQfinish(s->db);
    free(s);
}

rt_actor_t *dlq_jobs_spawn(const actor_env_t *env)
{
    dlq_jobs_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    rt_actor_opts_t o = {.name = "dlq", .dedicated = true, .finalizer = dlq_jobs_finalize};
    s->self = rt_spawn(env->rt, dlq_jobs_handler, s, &o);
    kafka_wake_init(&s->wake, s->self, MSG_DLQ_POLL);
    rt_timer_start(s->self, TICK_MS, TICK_MS, NULL);
    return s->self;
}
