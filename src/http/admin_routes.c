/*
 * admin_routes.c -- the admin paths (bearer token: [http] admin_token).
 *
 * Pause and resume are published on the control topic and answered once
 * Kafka has the command: every process of the group applies it, this one
 * included. Status is this process's own view; lag and topic stats come
 * from the broker through the admin actor, off the event loop.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "admin.h"
#include "metrics.h"
#include "record.h"
#include "sync_requests.h"
#include "routes.h"
#include "event.h"
#include "uuid.h"

bool http_admin_authorized(http_app_t *app, h2o_req_t *req, const char *route, int *rc)
{
    const char *token = app->cfg->admin_token;
    if (token == NULL || token[0] == '\0') {
        *rc = http_respond_error(req, route, 403, "admin_disabled", "DISPATCHD_ADMIN_TOKEN is not set");
        return false;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    size_t tlen = strlen(token);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len == 7 + tlen && strncmp(v.base, "Bearer ", 7) == 0 && CRYPTO_memcmp(v.base + 7, token, tlen) == 0)
            return true;
    }
    *rc = http_respond_error(req, route, 401, "unauthorized", "Authorization: Bearer <admin token> required");
    return false;
}

/* Publishes {cmd, group, topic, partitions} on the control topic. */
static int publish_command(http_app_t *app, h2o_req_t *req, const char *route, const char *cmd, const char *group,
                           json_t *topic, json_t *partitions, json_t *extra)
{
    char id[37];
    uuid_v4(id);
    json_t *c = json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:I}", "id", id, "cmd", cmd, "group", group, "topic", topic,
                          "partitions", partitions, "issued_at_ms", (json_int_t)(now_us() / 1000));
    if (extra != NULL)
        json_object_update(c, extra);
    char *value = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return http_produce_then_answer(app, req, route, app->cfg->topic_control, group, value, id, 200,
                                    "{\"success\":true,\"message\":\"command published to the group\"}");
}

int admin_processing_status(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    const char *route = rc->route;
    const pipeline_status_t *st_all = app->pl->status;
    json_t *parts = json_array();
    for (int i = 0; i < PIPELINE_MAX_PARTITIONS; i++) {
        const partition_stats_t *st = &st_all->partitions[i];
        if (!pstat_get(&st->assigned))
            continue;
        int64_t committed = pstat_get(&st->committed), hw = pstat_get(&st->high_watermark);
        json_array_append_new(parts, json_pack("{s:i, s:O, s:I, s:I, s:I, s:b}", "partition", i, "committed_offset",
                                               committed >= 0 ? json_integer(committed) : json_null(),
                                               "high_watermark", (json_int_t)hw, "lag",
                                               (json_int_t)(hw > committed && committed >= 0 ? hw - committed : hw > 0 && committed < 0 ? hw : 0),
                                               "in_flight", (json_int_t)pstat_get(&st->inflight), "paused",
                                               pstat_get(&st->paused) != 0));
    }
    static const char *const circuit[] = {"closed", "half_open", "open"};
    int64_t cs = __atomic_load_n(&g_metrics.circuit_state, __ATOMIC_RELAXED);
    json_t *o = json_pack("{s:b, s:s, s:s, s:I, s:s, s:s, s:o}", "enabled",
                          !__atomic_load_n(&st_all->admin_paused_all, __ATOMIC_ACQUIRE), "group", app->cfg->group_id,
                          "topic", app->cfg->topic_raw, "in_flight",
                          (json_int_t)__atomic_load_n(&st_all->inflight, __ATOMIC_RELAXED), "classifier",
                          app->cfg->classifier, "circuit_state", circuit[cs >= 0 && cs <= 2 ? cs : 0], "partitions",
                          parts);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int answered = http_respond_json(req, route, 200, s);
    free(s);
    return answered;
}

static void on_query_answer(void *ctx, int status, const char *json)
{
    http_pending_complete(ctx, status, json);
}

static int query(http_app_t *app, h2o_req_t *req, const char *route, admin_query_kind_t kind, const char *group,
                 size_t glen, const char *topic, size_t tlen)
{
    admin_query_msg_t *q = rt_msg_new(sizeof(*q), MSG_ADMIN_QUERY);
    q->kind = kind;
    snprintf(q->group, sizeof(q->group), "%.*s", (int)glen, group ? group : "");
    snprintf(q->topic, sizeof(q->topic), "%.*s", (int)tlen, topic ? topic : "");
    q->reply = on_query_answer;
    q->ctx = http_pending_new(app, req, route);
    if (rt_send(app->pl->admin, q) != RT_OK) {
        http_pending_complete(q->ctx, 503, "{\"error\":\"busy\",\"detail\":\"admin queue full or stopping\"}");
        rt_msg_free(q);
    }
    return 0;
}

/* The budget is in the database: the syncs actor, which holds the HTTP
 * plane's connection, answers. */
int admin_budget_status(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    const char *route = rc->route;
    sync_request_msg_t *q = rt_msg_new(sizeof(*q), MSG_SYNC_REQUEST);
    q->kind = BUDGET_STATUS;
    q->reply = on_query_answer;
    q->ctx = http_pending_new(app, req, route);
    if (rt_send(app->pl->syncs, q) != RT_OK) {
        http_pending_complete(q->ctx, 503, "{\"error\":\"busy\",\"detail\":\"queue full or stopping\"}");
        rt_msg_free(q);
    }
    return 0;
}

/* The input topic's partition count: the broker's, else the configured. */
static long partition_count(http_app_t *app)
{
    int n = __atomic_load_n(&app->pl->status->raw_partitions, __ATOMIC_RELAXED);
    return n > 0 ? n : app->cfg->topic_partitions;
}

/* A partition list [0, 2]: every element a partition number of the input
 * topic, else false with the element named in why. */
static bool partition_list_ok(http_app_t *app, json_t *parts, char *why, size_t whylen)
{
    long n = partition_count(app);
    size_t i;
    json_t *v;
    json_array_foreach(parts, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= n) {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            snprintf(why, whylen, "partitions[%zu]: %.40s is not a partition of %s (0 to %ld)", i,
                     text ? text : "?", app->cfg->topic_raw, n - 1);
            free(text);
            return false;
        }
    }
    return true;
}

/* A map {"0": 100}: every key a partition number in canonical form (as the
 * processes look them up) and every value an offset, else false with the
 * key named in why. */
static bool partition_offsets_ok(http_app_t *app, json_t *offsets, char *why, size_t whylen)
{
    long n = partition_count(app);
    const char *k;
    json_t *v;
    json_object_foreach(offsets, k, v) {
        size_t len = strlen(k);
        bool digits = len > 0 && len <= 6 && strspn(k, "0123456789") == len && (k[0] != '0' || len == 1);
        if (!digits || atol(k) >= n) {
            snprintf(why, whylen, "partitions: key \"%.20s\" is not a partition of %s (0 to %ld)", k,
                     app->cfg->topic_raw, n - 1);
            return false;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(why, whylen, "partitions[\"%s\"]: the offset must be a non-negative integer", k);
            return false;
        }
    }
    return true;
}

/* Reads the optional body {topic, partitions[]} of a group pause/resume. */
static int group_pause(http_app_t *app, h2o_req_t *req, const char *route, const char *cmd, const char *group)
{
    json_t *topic = NULL, *parts = NULL, *body = NULL;
    if (req->entity.len > 0) {
        json_error_t je;
        body = json_loadb(req->entity.base, req->entity.len, 0, &je);
        if (!json_is_object(body)) {
            json_decref(body);
            return http_respond_error(req, route, 400, "bad_body", "expected a JSON object {topic, partitions[]}");
        }
        topic = json_object_get(body, "topic");
        parts = json_object_get(body, "partitions");
        if ((topic && !json_is_string(topic) && !json_is_null(topic)) ||
            (parts && !json_is_array(parts) && !json_is_null(parts))) {
            json_decref(body);
            return http_respond_error(req, route, 400, "bad_body", "topic must be a string, partitions an array");
        }
        char why[256];
        if (json_is_array(parts) && !partition_list_ok(app, parts, why, sizeof(why))) {
            json_decref(body);
            return http_respond_error(req, route, 400, "bad_body", why);
        }
        if (json_is_null(topic))
            topic = NULL;
        if (json_is_null(parts))
            parts = NULL;
    }
    int rc = publish_command(app, req, route, cmd, group, topic, parts, NULL);
    json_decref(body);
    return rc;
}

/* {strategy: TO_EARLIEST|TO_LATEST|TO_DATETIME|TO_OFFSET, datetime,
 *  partitions: {"0": 100} for TO_OFFSET, or [0, 1] to limit the others} */
static int reset_offsets(http_app_t *app, h2o_req_t *req, const char *route, const char *group)
{
    json_error_t je;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    const char *strategy = json_string_value(json_object_get(body, "strategy"));
    json_t *parts = json_object_get(body, "partitions");
    const char *err = NULL;
    char why[256];
    json_t *extra = NULL;
    if (!json_is_object(body))
        err = "expected a JSON object {strategy, datetime, partitions}";
    else if (strategy == NULL || (strcmp(strategy, "TO_EARLIEST") && strcmp(strategy, "TO_LATEST") &&
                                  strcmp(strategy, "TO_DATETIME") && strcmp(strategy, "TO_OFFSET")))
        err = "strategy must be TO_EARLIEST, TO_LATEST, TO_DATETIME or TO_OFFSET";
    else if (strcmp(strategy, "TO_OFFSET") == 0) {
        if (!json_is_object(parts) || json_object_size(parts) == 0)
            err = "TO_OFFSET needs partitions {\"0\": offset, ...}";
        else if (!partition_offsets_ok(app, parts, why, sizeof(why)))
            err = why;
        else
            extra = json_pack("{s:s, s:O}", "strategy", strategy, "offsets", parts);
    } else {
        json_int_t at = 0;
        if (parts != NULL && !json_is_null(parts) && !json_is_array(parts))
            err = "partitions must be a list for this strategy";
        else if (json_is_array(parts) && !partition_list_ok(app, parts, why, sizeof(why)))
            err = why;
        else if (strcmp(strategy, "TO_DATETIME") == 0) {
            at = iso8601_to_ms(json_string_value(json_object_get(body, "datetime")));
            if (at < 0)
                err = "TO_DATETIME needs datetime as ISO 8601, e.g. 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00";
        }
        if (err == NULL)
            extra = json_pack("{s:s, s:I, s:O?}", "strategy", strategy, "datetime_ms", at, "partitions",
                              json_is_array(parts) ? parts : NULL);
    }
    if (err != NULL) {
        json_decref(body);
        return http_respond_error(req, route, 400, "bad_body", err);
    }
    int rc = publish_command(app, req, route, "reset", group, NULL, NULL, extra);
    json_decref(extra);
    json_decref(body);
    return rc;
}

/* The {group} of the path, as a string. */
static void group_of(const route_ctx_t *rc, char *group, size_t len)
{
    snprintf(group, len, "%.*s", (int)rc->params.v[0].len, rc->params.v[0].base);
}

int admin_pause_processing(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    return publish_command(app, req, rc->route, "pause", app->cfg->group_id, NULL, NULL, NULL);
}

int admin_resume_processing(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    return publish_command(app, req, rc->route, "resume", app->cfg->group_id, NULL, NULL, NULL);
}

int admin_group_pause(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    char group[256];
    group_of(rc, group, sizeof(group));
    return group_pause(app, req, rc->route, "pause", group);
}

int admin_group_resume(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    char group[256];
    group_of(rc, group, sizeof(group));
    return group_pause(app, req, rc->route, "resume", group);
}

int admin_reset_offsets(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    char group[256];
    group_of(rc, group, sizeof(group));
    return reset_offsets(app, req, rc->route, group);
}

int admin_group_lag(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    return query(app, req, rc->route, ADMIN_GROUP_LAG, rc->params.v[0].base, rc->params.v[0].len, NULL, 0);
}

int admin_topic_stats(http_app_t *app, h2o_req_t *req, const route_ctx_t *rc)
{
    return query(app, req, rc->route, ADMIN_TOPIC_STATS, NULL, 0, rc->params.v[0].base, rc->params.v[0].len);
}
