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
            json_array_append_new(parts, json_pack("{s:i, s:I, s:b}", "partition", p, "in_flight",
                                                   (json_int_t)pstat_get(&st->inflight), "paused",
                                                   pstat_get(&st->paused) != 0));
    }
    json_t *counters = json_object();
    for (int r = 0; r < RESULT_COUNT; r++)
        json_object_set_new(counters, record_result_name(r),
                            json_integer((json_int_t)__atomic_load_n(&g_metrics.records[r], __ATOMIC_RELAXED)));
    process_beat_t b = {.process_id = s->process_id, .group_id = env->cfg->group_id, .host = s->host,
                        .version = DISPATCHD_VERSION, .pid = (int)getpid(), .started_ms = s->started_ms,
                        .state = state_of(env->status), .rss_bytes = rss_bytes(), .partitions = parts,
                        .counters = counters};
    json_t *list = NULL;
    if (pg_keep(&s->db, env->cfg->database_url, err, sizeof(err)) == NULL ||
        processes_beat(s->db, &b, err, sizeof(err)) != 0 ||
        (list = processes_list(s->db, env->cfg->group_id, err, sizeof(err))) == NULL)
        log_debug("consistency", "heartbeat: %s", err);
    json_decref(parts);
    json_decref(counters);
    if (list != NULL) {
        json_decref(s->processes);
        s->processes = list;
    }
}

void consistency_status_build(consistency_state_t *s, int64_t total_lag)
{
    long long now_ms = (long long)(now_us() / 1000);
    const config_t *cfg = s->env->cfg;
    /* Owners from the live processes' heartbeats. */
    const char *owner[PIPELINE_MAX_PARTITIONS] = {0};
    json_t *owned[PIPELINE_MAX_PARTITIONS] = {0};
    json_t *procs = json_array();
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
        if (gone)
            continue;
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
    for (int n = 0; n < s->raw.n; n++) {
        int64_t c = s->raw.committed[n], h = s->raw.hi[n];
        json_t *row = json_pack("{s:i, s:s?, s:o, s:I, s:I, s:I, s:b}", "partition", n, "owner", owner[n],
                                "committed_offset", c >= 0 ? json_integer(c) : json_null(), "high_watermark",
                                (json_int_t)h, "lag", (json_int_t)(h - (c >= 0 ? c : s->raw.lo[n])), "in_flight",
                                (json_int_t)(owned[n] ? json_integer_value(json_object_get(owned[n], "in_flight")) : 0),
                                "paused", owned[n] ? json_is_true(json_object_get(owned[n], "paused")) : false);
        json_array_append_new(parts, row);
    }
    static const char *const circuit[] = {"closed", "half_open", "open"};
    int64_t cs = __atomic_load_n(&g_metrics.circuit_state, __ATOMIC_RELAXED);
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:I, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:s, s:{s:I, s:I}}", "group", cfg->group_id,
        "topic", cfg->topic_raw, "refreshed_at", s->refreshed_at, "snapshot_refreshes", (json_int_t)s->refreshes,
        "processes", procs, "partitions", parts, "totals", "lag", (json_int_t)total_lag, "issues",
        (json_int_t)s->counts.issues, "enriched", (json_int_t)s->counts.enriched, "dlq_depth",
        (json_int_t)s->dlq_depth, "retry_depth", (json_int_t)s->retry_depth, "circuit_state",
        circuit[cs >= 0 && cs <= 2 ? cs : 0], "budget", "daily_limit",
        (json_int_t)__atomic_load_n(&g_metrics.budget_daily_limit, __ATOMIC_RELAXED), "remaining",
        (json_int_t)__atomic_load_n(&g_metrics.budget_remaining, __ATOMIC_RELAXED));
    free(s->status_json);
    s->status_json = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
}
