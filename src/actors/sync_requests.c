/*
 * syncs.c -- the syncs actor: a dedicated thread with its own database
 * connection answering the HTTP plane's sync requests (status, cancel)
 * and the budget's status off the event loop.
 *
 * A cancel commits in PostgreSQL (syncs_cancel: the sync marked cancelled,
 * the user's unclassified manual_pull issues of the repository removed),
 * then takes effect on this process's classifier (asked, and answered once
 * in force) and on every other process of the group (a cancel_sync command
 * on the control topic, acknowledged by Kafka) before the request is
 * answered. From then on this process classifies no event of that sync;
 * the others stop as soon as they read the command (milliseconds), and the
 * storage actors store nothing of a cancelled sync whatever its events'
 * timing (ledger.c: the syncs' locks), so the counts in the answer stay true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm_quota.h"
#include "log.h"
#include "sync_requests.h"
#include "classifier.h"
#include "publisher.h"
#include "schema.h"
#include "syncs.h"
#include "uuid.h"
#include "wakeup.h"

#define APPLY_WAIT_MS 5000

typedef struct syncs_state {
    const actor_env_t *env;
    PGconn *db;
} syncs_state_t;

/* A produce this thread waits for; whoever of waiter and delivery report
 * comes last frees it. */
typedef struct produce_wait {
    wakeup_t wake;
    int state;                    /* 0 waiting, 1 delivered, 2 abandoned */
    rd_kafka_resp_err_t err;
} produce_wait_t;

static void produced(void *ctx, rd_kafka_resp_err_t err)
{
    produce_wait_t *w = ctx;
    w->err = err;
    int expect = 0;
    if (__atomic_compare_exchange_n(&w->state, &expect, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        wakeup_signal(&w->wake);
        return;
    }
    wakeup_destroy(&w->wake);
    free(w);
}

/* Every process of the group: a cancel_sync command on the control topic. */
static bool tell_group(syncs_state_t *s, const char *sync_id)
{
    const actor_env_t *env = s->env;
    char id[37];
    uuid_v4(id);
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", id, "cmd", "cancel_sync", "group", env->cfg->group_id,
                          "sync_id", sync_id, "issued_at_ms", (json_int_t)(now_us() / 1000));
    char *value = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    produce_wait_t *w = calloc(1, sizeof(*w));
    wakeup_init(&w->wake);
    external_ack_t *ack = rt_msg_new(sizeof(*ack), MSG_EXTERNAL_ACK);
    ack->done = produced;
    ack->ctx = w;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        env->producer, RD_KAFKA_V_TOPIC(env->cfg->topic_control), RD_KAFKA_V_KEY(env->cfg->group_id, strlen(env->cfg->group_id)),
        RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(ack),
        RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_warn("syncs", "cancel of sync %s not sent to the group: %s", sync_id, rd_kafka_err2str(e));
        free(value);
        rt_msg_free(ack);
        wakeup_destroy(&w->wake);
        free(w);
        return false;
    }
    uint64_t deadline = rt_now_ms() + APPLY_WAIT_MS;
    while (__atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == 0 && rt_now_ms() < deadline)
        wakeup_wait(&w->wake, 100);
    int expect = 0;
    if (__atomic_compare_exchange_n(&w->state, &expect, 2, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        log_warn("syncs", "cancel of sync %s: no acknowledgement from Kafka within %d ms", sync_id, APPLY_WAIT_MS);
        return false;   /* the report frees it */
    }
    bool ok = w->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!ok)
        log_warn("syncs", "cancel of sync %s not sent to the group: %s", sync_id, rd_kafka_err2str(w->err));
    wakeup_destroy(&w->wake);
    free(w);
    return ok;
}

/* This process: answered once the classifier skips the sync's events. */
static bool tell_classifier(syncs_state_t *s, const char *sync_id)
{
    sync_cancelled_msg_t *m = rt_msg_new(sizeof(*m), MSG_SYNC_CANCELLED);
    snprintf(m->sync_id, sizeof(m->sync_id), "%s", sync_id);
    rt_future_t *f = rt_future_new();
    if (rt_ask_future(s->env->to->classifier, m, f) != RT_OK) {
        rt_msg_free(m);
        return false;
    }
    rt_msg_t *reply = rt_future_wait(f, APPLY_WAIT_MS);
    if (reply == NULL)
        return false;
    rt_msg_free(reply);
    return true;
}

static PGconn *db(syncs_state_t *s)
{
    char err[256];
    PGconn *c = pg_keep(&s->db, s->env->cfg->database_url, err, sizeof(err));
    if (c == NULL)
        log_warn("syncs", "%s", err);
    return c;
}

static void answer(sync_request_msg_t *q, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    q->reply(q->ctx, status, text);
    free(text);
    json_decref(body);
}

/* GET /admin/budget-status: {daily_limit, used_today, remaining,
 * percentage_used}, and the day and what a spent budget does; NULL if the
 * database did not answer. */
static json_t *budget_status(syncs_state_t *s, PGconn *c)
{
    const config_t *cfg = s->env->cfg;
    long used = 0;
    char err[256];
    if (quota_budget_used(c, &used, err, sizeof(err)) != 0) {
        log_warn("syncs", "%s", err);
        return NULL;
    }
    long limit = (long)__atomic_load_n(&s->env->status->daily_limit, __ATOMIC_ACQUIRE), left = limit > used ? limit - used : 0;
    __atomic_store_n(&g_metrics.budget_remaining, left, __ATOMIC_RELAXED);
    char day[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(day, sizeof(day), "%Y-%m-%d", gmtime_r(&now, &tm));
    return json_pack("{s:I, s:I, s:I, s:f, s:s, s:s, s:I}", "daily_limit", (json_int_t)limit, "used_today",
                     (json_int_t)used, "remaining", (json_int_t)left, "percentage_used",
                     limit > 0 ? 100.0 * (double)used / (double)limit : 100.0, "day", day, "budget_mode",
                     cfg->budget_mode, "user_daily_limit",
                     (json_int_t)__atomic_load_n(&s->env->status->user_daily_limit, __ATOMIC_ACQUIRE));
}

static void handle(syncs_state_t *s, sync_request_msg_t *q)
{
    PGconn *c = db(s);
    if (c == NULL) {
        answer(q, 503, json_pack("{s:s, s:s}", "error", "database_unavailable", "detail", "try again"));
        return;
    }
    int status = 503;
    if (q->kind == BUDGET_STATUS) {
        json_t *body = budget_status(s, c);
        if (body == NULL)
            answer(q, 503, json_pack("{s:s, s:s}", "error", "database_unavailable", "detail", "try again"));
        else
            answer(q, 200, body);
        return;
    }
    if (q->kind == SYNC_STATUS) {
        json_t *body = syncs_status(c, q->user, q->owner, q->repo, &status);
        answer(q, status, body);
        return;
    }
    char sync_id[64] = "";
    json_t *body = syncs_cancel(c, q->user, q->owner, q->repo, &status, sync_id);
    if (status == 200) {
        bool here = tell_classifier(s, sync_id);
        bool group = tell_group(s, sync_id);
        log_info("syncs", "sync %s of %s/%s by %s cancelled (classifier here: %s, group told: %s)", sync_id, q->owner,
                 q->repo, q->user, here ? "yes" : "no", group ? "yes" : "no");
        if (!here || !group)
            json_object_set_new(body, "warning",
                                json_string("cancelled in the database; not every process confirmed it yet"));
    }
    answer(q, status, body);
}

static void syncs_handler(rt_actor_t *self, rt_msg_t *msg)
{
    syncs_state_t *s = rt_actor_state(self);
    if (msg->type == MSG_SYNC_REQUEST)
        handle(s, (sync_request_msg_t *)msg);
    rt_msg_free(msg);
}

static void syncs_finalize(rt_actor_t *self)
{
    syncs_state_t *s = rt_actor_state(self);
    if (s->db != NULL)
        PQfinish(s->db);
    free(s);
}

/* Syncs cancelled earlier (by any process, before this one started) are
 * skipped too: their ids go to the classifier ahead of any record. The
 * control topic's commands are replayed as well, but it keeps a day, the
 * raw topic a week. */
static void load_cancelled(syncs_state_t *s)
{
    PGconn *c = db(s);
    if (c == NULL)
        return;
    PGresult *r = PQexec(c, "SELECT sync_id FROM dispatchai.repository_syncs WHERE sync_status = 'cancelled'"
                            " AND updated_at > now() - interval '8 days'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(r); i++) {
            sync_cancelled_msg_t *m = rt_msg_new(sizeof(*m), MSG_SYNC_CANCELLED);
            snprintf(m->sync_id, sizeof(m->sync_id), "%s", PQgetvalue(r, i, 0));
            rt_send_force(s->env->to->classifier, m);
        }
    } else {
        log_warn("syncs", "cancelled syncs not loaded: %s", PQresultErrorMessage(r));
    }
    PQclear(r);
}

rt_actor_t *sync_requests_spawn(const actor_env_t *env)
{
    syncs_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->env = env;
    load_cancelled(s);
    rt_actor_opts_t o = {.name = "syncs", .dedicated = true, .capacity = 1024, .batch = 1,
                         .finalizer = syncs_finalize};
    return rt_spawn(env->rt, syncs_handler, s, &o);
}
