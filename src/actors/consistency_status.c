/*
 * consistency_status.c -- GET /api/status's document, from the consistency
 * actor's snapshot (see consistency.h), and this process's heartbeat.
 *
 * How the processes of a group know each other: each writes a heartbeat
 * row every 2 s (dispatchai.processes: host, version, pid, start, state,
 * RSS, the partitions it owns with their in-flight counts and pauses, its
 * record counts) and reads the group's rows; a process not heard for more
 * than GONE_AFTER_S is shown as gone, and owns nothing. Partitions, their
 * committed offsets and lag come from the broker (the snapshot), so a
 * partition owned by nobody, paused, or without a commit is still right.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consistency_internal.h"
#include "log.h"
#include "processes.h"
#include "schema.h"
#include "syncs.h"

#define BEAT_EVERY_MS 2000         /* written this often; the group's read every tick */
#define GONE_AFTER_S 15

static long long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (long long)resident * sysconf(_SC_PAGESIZE);
}

/* This process's figures since its last heartbeat: records per second by
 * result, end-to-end and classify latencies (p50, p99; null when nothing
 * was observed). */
static json_t *figures(consistency_state_t *s, uint64_t now)
{
    double dt = s->figures_ms ? (double)(now - s->figures_ms) / 1000.0 : 0;
    json_t *per_s = json_object();
    for (int r = 0; r < RESULT_COUNT; r++) {
        uint64_t v = __atomic_load_n(&g_metrics.records[r], __ATOMIC_RELAXED);
        json_object_set_new(per_s, record_result_name(r),
                            json_real(dt > 0 && v >= s->records_before[r] ? (double)(v - s->records_before[r]) / dt : 0));
        s->records_before[r] = v;
    }
    histogram_t e2e, cls, one;
    histogram_read(&g_metrics.end_to_end, &e2e);
    memset(&cls, 0, sizeof(cls));
    for (int p = 0; p < PROVIDER_COUNT; p++) {
        histogram_read(&g_metrics.classify[p], &one);
        for (int i = 0; i <= HIST_BUCKETS; i++)
            cls.counts[i] += one.counts[i];
    }
    double q[4] = {histogram_quantile_since(&e2e, &s->e2e_before, 0.5), histogram_quantile_since(&e2e, &s->e2e_before, 0.99),
                   histogram_quantile_since(&cls, &s->classify_before, 0.5),
                   histogram_quantile_since(&cls, &s->classify_before, 0.99)};
    s->e2e_before = e2e;
    s->classify_before = cls;
    s->figures_ms = now;
    json_t *f = json_pack("{s:o}", "records_per_s", per_s);
    static const char *const names[4] = {"end_to_end_p50_s", "end_to_end_p99_s", "classify_p50_s", "classify_p99_s"};
    for (int i = 0; i < 4; i++)
        json_object_set_new(f, names[i], q[i] >= 0 ? json_real(q[i]) : json_null());
    return f;
}

static json_t *paused_why(const pipeline_status_t *st, const partition_stats_t *ps)
{
    json_t *why = json_array();
    int64_t bits = pstat_get(&ps->pause_why);
    if (__atomic_load_n(&st->admin_paused_all, __ATOMIC_ACQUIRE) || pstat_get(&ps->admin_held))
        json_array_append_new(why, json_string("admin"));
    if (bits & PARTITION_PAUSE_INFLIGHT)
        json_array_append_new(why, json_string("max_inflight"));
    if (bits & PARTITION_PAUSE_DOWNSTREAM)
        json_array_append_new(why, json_string("downstream_full"));
    if (bits & PARTITION_PAUSE_OFFSET_MAP)
        json_array_append_new(why, json_string("offset_map_full"));
    return why;
}

static const char *state_of(const pipeline_status_t *st)
{
    if (__atomic_load_n(&st->stopping, __ATOMIC_ACQUIRE))
        return "draining";
    if (__atomic_load_n(&st->admin_paused_all, __ATOMIC_ACQUIRE))
        return "paused";
    return "running";
}

void consistency_beat(consistency_state_t *s)
{
    const actor_env_t *env = s->env;
    char err[256];
    uint64_t now = rt_now_ms();
    if (s->beat_ms != 0 && now - s->beat_ms < BEAT_EVERY_MS) {
        json_t *list = pg_keep(&s->db, env->cfg->database_url, err, sizeof(err))
                           ? processes_list(s->db, env->cfg->group_id, err, sizeof(err))
                           : NULL;
        if (list != NULL) {
            json_decref(s->processes);
            s->processes = list;
        }
        return;
    }
    s->beat_ms = now;
    json_t *parts = json_array();
    for (int p = 0; p < PIPELINE_MAX_PARTITIONS; p++) {
        const partition_stats_t *st = &env->status->partitions[p];
        if (pstat_get(&st->assigned))
            json_array_append_new(parts, json_pack("{s:i, s:I, s:b, s:o}", "partition", p, "in_flight",
                                                   (json_int_t)pstat_get(&st->inflight), "paused",
                                                   pstat_get(&st->paused) != 0, "paused_why",
                                                   paused_why(env->status, st)));
    }
    json_t *figs = figures(s, now);
    process_beat_t b = {.process_id = s->process_id, .group_id = env->cfg->group_id, .host = s->host,
                        .version = DISPATCHD_VERSION, .pid = (int)getpid(), .started_ms = s->started_ms,
                        .state = state_of(env->status), .rss_bytes = rss_bytes(), .partitions = parts,
                        .figures = figs};
    json_t *list = NULL;
    if (pg_keep(&s->db, env->cfg->database_url, err, sizeof(err)) == NULL ||
        processes_beat(s->db, &b, err, sizeof(err)) != 0 ||
        (list = processes_list(s->db, env->cfg->group_id, err, sizeof(err))) == NULL)
        log_debug("consistency", "heartbeat: %s", err);
    json_t *syncs = list != NULL ? syncs_in_progress(s->db, err, sizeof(err)) : NULL;
    if (syncs != NULL) {
        json_decref(s->syncs);
        s->syncs = syncs;
    }
    json_decref(parts);
    json_decref(figs);
    if (list != NULL) {
        json_decref(s->processes);
        s->processes = list;
    }
}

/* A readiness check: ok, warning, error or unknown, with what it saw. */
static void check(json_t *checks, const char *name, const char *state, const char *detail)
{
    json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", name, "state", state, "detail", detail));
}

#define LAG_HIGH 10000
#define SKEW_FACTOR 3

static json_t *checks_of(consistency_state_t *s, int64_t total_lag, int64_t max_lag, int nparts, int live, int gone)
{
    json_t *c = json_array();
    char d[200];
    bool kafka = s->kafka_error[0] == '\0', db = s->db_error[0] == '\0';
    check(c, "kafka", kafka ? "ok" : "error", kafka ? "the broker answers" : s->kafka_error);
    check(c, "database", db ? "ok" : "error", db ? "PostgreSQL answers" : s->db_error);
    if (!kafka) {
        check(c, "lag", "unknown", "the broker did not answer");
    } else {
        bool rising = s->lag_rising;
        snprintf(d, sizeof(d), "%lld records behind (%s; high at %d)", (long long)total_lag,
                 rising ? "rising" : "not rising", LAG_HIGH);
        check(c, "lag", total_lag >= LAG_HIGH && rising ? "warning" : "ok", d);
        double avg = nparts > 0 ? (double)total_lag / nparts : 0;
        bool skewed = avg > 0 && max_lag >= 100 && (double)max_lag >= SKEW_FACTOR * avg && nparts > 1;
        snprintf(d, sizeof(d), "the most behind partition %lld, the average %.0f", (long long)max_lag, avg);
        check(c, "skew", skewed ? "warning" : "ok", d);
    }
    int64_t cs = __atomic_load_n(&g_metrics.circuit_state, __ATOMIC_RELAXED);
    check(c, "llm_breaker", cs == 2 ? "error" : cs == 1 ? "warning" : "ok",
          cs == 2 ? "open: the LLM keeps failing" : cs == 1 ? "half-open: probing" : "closed");
    int64_t rem = __atomic_load_n(&g_metrics.budget_remaining, __ATOMIC_RELAXED);
    int64_t lim = __atomic_load_n(&g_metrics.budget_daily_limit, __ATOMIC_RELAXED);
    if (rem < 0 || lim <= 0) {
        check(c, "llm_budget", "unknown", rem < 0 ? "not asked yet (no LLM call this process)" : "no daily budget");
    } else {
        snprintf(d, sizeof(d), "%lld of %lld left today", (long long)rem, (long long)lim);
        check(c, "llm_budget", rem == 0 ? "error" : rem * 10 < lim ? "warning" : "ok", d);
    }
    snprintf(d, sizeof(d), "%d live, %d gone (silent more than %d s)", live, gone, GONE_AFTER_S);
    check(c, "processes", live == 0 ? "error" : gone > 0 ? "warning" : "ok", d);
    return c;
}

void consistency_status_build(consistency_state_t *s, int64_t total_lag)
{
    const config_t *cfg = s->env->cfg;
    long long now_ms = (long long)(now_us() / 1000);
    /* Owners from the live processes' heartbeats. */
    const char *owner[PIPELINE_MAX_PARTITIONS] = {0};
    json_t *owned[PIPELINE_MAX_PARTITIONS] = {0};
    json_t *procs = json_array(), *per_s = json_object();
    double worst[4] = {-1, -1, -1, -1};
    static const char *const lat[4] = {"end_to_end_p50_s", "end_to_end_p99_s", "classify_p50_s", "classify_p99_s"};
    int live = 0, gone_n = 0;
    size_t i;
    json_t *p;
    json_array_foreach(s->processes, i, p) {
        json_t *copy = json_deep_copy(p);
        double heard_s = (double)(now_ms - json_integer_value(json_object_get(p, "heard_ms"))) / 1000.0;
        bool gone = heard_s > GONE_AFTER_S;
        json_object_del(copy, "heard_ms");
        json_object_set_new(copy, "last_heard_s", json_real(heard_s < 0 ? 0 : heard_s));
        json_object_set_new(copy, "gone", json_boolean(gone));
        if (gone)
            json_object_set_new(copy, "state", json_string("gone"));
        json_array_append_new(procs, copy);
        if (gone) {
            gone_n++;
            continue;
        }
        live++;
        json_t *f = json_object_get(p, "figures");
        const char *res;
        json_t *v;
        json_object_foreach(json_object_get(f, "records_per_s"), res, v) {
            json_t *sum = json_object_get(per_s, res);
            json_object_set_new(per_s, res, json_real((sum ? json_number_value(sum) : 0) + json_number_value(v)));
        }
        for (int k = 0; k < 4; k++) {
            json_t *q = json_object_get(f, lat[k]);
            if (json_is_number(q) && json_number_value(q) > worst[k])
                worst[k] = json_number_value(q);
        }
        size_t k;
        json_t *part;
        json_array_foreach(json_object_get(p, "partitions"), k, part) {
            json_int_t n = json_integer_value(json_object_get(part, "partition"));
            if (n >= 0 && n < PIPELINE_MAX_PARTITIONS) {
                owner[n] = json_string_value(json_object_get(p, "process_id"));
                owned[n] = part;
            }
        }
    }
    json_t *parts = json_array();
    int64_t max_lag = 0;
    for (int n = 0; n < s->raw.n; n++) {
        json_t *row;
        if (s->raw.bad[n][0]) {
            /* This row says the broker failed it; the document stands. */
            row = json_pack("{s:i, s:s?, s:s}", "partition", n, "owner", owner[n], "error", s->raw.bad[n]);
        } else {
            int64_t c = s->raw.committed[n], h = s->raw.hi[n];
            int64_t lag = view_lag(&s->raw, n);
            max_lag = lag > max_lag ? lag : max_lag;
            row = json_pack("{s:i, s:s?, s:o, s:I, s:I}", "partition", n, "owner", owner[n], "committed_offset",
                            c >= 0 ? json_integer(c) : json_null(), "high_watermark", (json_int_t)h, "lag",
                            (json_int_t)lag);
        }
        json_object_set_new(row, "in_flight",
                            json_integer(owned[n] ? json_integer_value(json_object_get(owned[n], "in_flight")) : 0));
        json_object_set_new(row, "paused", json_boolean(owned[n] && json_is_true(json_object_get(owned[n], "paused"))));
        json_t *why = owned[n] ? json_object_get(owned[n], "paused_why") : NULL;
        json_object_set_new(row, "paused_why", why ? json_incref(why) : json_array());
        json_array_append_new(parts, row);
    }
    json_t *latency = json_object();
    for (int k = 0; k < 4; k++)
        json_object_set_new(latency, lat[k], worst[k] >= 0 ? json_real(worst[k]) : json_null());
    static const char *const circuit[] = {"closed", "half_open", "open"};
    int64_t cs = __atomic_load_n(&g_metrics.circuit_state, __ATOMIC_RELAXED);
    json_t *checks = checks_of(s, total_lag, max_lag, s->raw.n, live, gone_n);
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:s, s:{s:I, s:I}, s:o, s:o, s:o}",
        "group", cfg->group_id, "topic", cfg->topic_raw, "refreshed_at", s->refreshed_at, "snapshot_refreshes",
        (json_int_t)s->refreshes, "processes", procs, "partitions", parts, "records_per_s", per_s, "latency",
        latency, "totals", "lag", (json_int_t)total_lag, "issues", (json_int_t)s->counts.issues, "enriched",
        (json_int_t)s->counts.enriched, "dlq_depth", (json_int_t)s->dlq_depth, "retry_depth",
        (json_int_t)s->retry_depth, "circuit_state", circuit[cs >= 0 && cs <= 2 ? cs : 0], "budget", "daily_limit",
        (json_int_t)__atomic_load_n(&g_metrics.budget_daily_limit, __ATOMIC_RELAXED), "remaining",
        (json_int_t)__atomic_load_n(&g_metrics.budget_remaining, __ATOMIC_RELAXED), "syncs",
        s->syncs ? json_incref(s->syncs) : json_array(), "checks", checks, "dlq_recent",
        s->dlq_recent ? json_incref(s->dlq_recent) : json_array());
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    latest_publish(s->status_doc, 200, text);
    free(text);
}
