#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum cfg_type { T_STR, T_INT, T_DOUBLE };

typedef struct cfg_desc {
    const char *section;
    const char *key;
    const char *env;           /* NULL: file only */
    enum cfg_type type;
    size_t offset;
    const char *def;           /* NULL: unset */
    long min, max;             /* for T_INT */
    const char *choices;       /* for T_STR: "a|b|c" or NULL */
    const char *help;
} cfg_desc_t;

#define F(field) offsetof(config_t, field)

static const cfg_desc_t DESCS[] = {
    {"kafka", "bootstrap.servers", "KAFKA_BOOTSTRAP_SERVERS", T_STR, F(kafka_bootstrap), "embedded", 0, 0, NULL,
     "brokers, or `embedded` for an in-process mock cluster"},
    {"consumer", "group_id", "DISPATCHD_GROUP_ID", T_STR, F(group_id), "dispatchai-classifier", 0, 0, NULL,
     "consumer group"},
    {"consumer", "instance_id", "DISPATCHD_INSTANCE_ID", T_STR, F(instance_id), NULL, 0, 0, NULL,
     "static group membership (group.instance.id): unique and stable per process, e.g. its host or pod name; a "
     "restart then takes its old partitions back without a rebalance"},
    {"topics", "raw", NULL, T_STR, F(topic_raw), "issues.raw", 0, 0, NULL, "input topic"},
    {"topics", "enriched", NULL, T_STR, F(topic_enriched), "issues.enriched", 0, 0, NULL, "output topic"},
    {"topics", "dlq", NULL, T_STR, F(topic_dlq), "issues.raw.dlq", 0, 0, NULL, "dead-letter topic"},
    {"topics", "control", NULL, T_STR, F(topic_control), "dispatchd.control", 0, 0, NULL, "fleet command topic"},
    {"topics", "retry", NULL, T_STR, F(topic_retry), "issues.raw.retry", 0, 0, NULL,
     "records whose transient failures outlast the in-process retries, until they are due again"},
    {"topics", "allowed", NULL, T_STR, F(topics_allowed), "issues.raw,issues.enriched,issues.raw.dlq,dispatchd.control,issues.raw.retry",
     0, 0, NULL, "topic names allowed beside pipeline.{pipeline}.step.{step}.(input|output|error|dead-letter)"},
    {"topics", "partitions", NULL, T_INT, F(topic_partitions), "3", 1, 10000, NULL,
     "partitions of created data topics"},
    {"database", "url", "DATABASE_URL", T_STR, F(database_url), "dbname=dispatchai", 0, 0, NULL,
     "libpq connection string or URI"},
    {"database", "retry_max_ms", NULL, T_INT, F(db_retry_max_ms), "10000", 100, 600000, NULL,
     "a failed write or lost connection is retried from 100 ms, doubling up to this"},
    {"classifier", "provider", "CLASSIFIER", T_STR, F(classifier), NULL, 0, 0, "local|rules|openai|cascade",
     "default: local if the model file exists, else rules"},
    {"classifier", "model_file", "DISPATCHD_MODEL", T_STR, F(model_file), "config/model.bin", 0, 0, NULL,
     "local classifier model"},
    {"classifier", "cascade_threshold", "DISPATCHD_CASCADE_THRESHOLD", T_DOUBLE, F(cascade_threshold), "0.7", 0, 0,
     NULL, "cascade: the local model's confidence below which the LLM is asked"},
    {"classifier", "rate_limit", "CLASSIFY_RATE_LIMIT", T_INT, F(classify_rate_limit), "600", 1, 100000000, NULL,
     "LLM calls per minute, whole group"},
    {"classifier", "daily_limit", "DAILY_CLASSIFICATION_LIMIT", T_INT, F(daily_limit), "1000", 0, 1000000000, NULL,
     "LLM classifications per UTC day, whole group"},
    {"classifier", "user_daily_limit", "DISPATCHD_USER_DAILY_LIMIT", T_INT, F(user_daily_limit), "-1", -1, 1000000000,
     NULL, "LLM classifications per UTC day for each user not named in [user_limits]; -1: no per-user limit"},
    {"classifier", "budget_mode", "DISPATCHD_BUDGET_MODE", T_STR, F(budget_mode), "pause", 0, 0, "pause|fallback",
     "a daily budget spent: hold LLM-bound records until the next UTC day or a raised limit (their partitions "
     "pause), or classify them with the local model (or rules)"},
    {"classifier", "token_rate_limit", "CLASSIFY_TOKEN_LIMIT", T_INT, F(token_rate_limit), "0", 0, 2000000000, NULL,
     "LLM tokens (prompt and completion) per minute, whole group; 0: no token limit"},
    {"openai", "api_key", "OPENAI_API_KEY", T_STR, F(openai_api_key), NULL, 0, 0, NULL, "LLM API key"},
    {"openai", "base_url", "OPENAI_BASE_URL", T_STR, F(openai_base_url), "https://api.openai.com/v1", 0, 0, NULL,
     "OpenAI-compatible endpoint"},
    {"openai", "model", "OPENAI_MODEL", T_STR, F(openai_model), "gpt-4o-mini", 0, 0, NULL, "LLM model name"},
    {"openai", "timeout_ms", "DISPATCHD_LLM_TIMEOUT_MS", T_INT, F(llm_timeout_ms), "30000", 100, 600000, NULL,
     "one LLM request's time limit"},
    {"openai", "max_retries", "DISPATCHD_LLM_MAX_RETRIES", T_INT, F(llm_max_retries), "6", 0, 100, NULL,
     "retries of a timeout, 5xx or 429 before the record goes to the DLQ (transient)"},
    {"openai", "retry_initial_ms", NULL, T_INT, F(llm_retry_initial_ms), "500", 1, 600000, NULL,
     "the first retry's delay, doubling (jittered) up to retry_max_ms; a longer Retry-After wins"},
    {"openai", "retry_max_ms", NULL, T_INT, F(llm_retry_max_ms), "30000", 1, 3600000, NULL,
     "the longest delay between two tries of one LLM request"},
    {"openai", "max_inflight", "DISPATCHD_LLM_MAX_INFLIGHT", T_INT, F(llm_max_inflight), "1000", 1, 100000, NULL,
     "LLM requests in flight at once, this process"},
    {"openai", "body_chars", "DISPATCHD_LLM_BODY_CHARS", T_INT, F(llm_body_chars), "4000", 0, 1000000, NULL,
     "issue body bytes sent to the model at most"},
    {"openai", "breaker_failures", "DISPATCHD_BREAKER_FAILURES", T_INT, F(breaker_failures), "5", 1, 100000, NULL,
     "consecutive failed or timed-out LLM requests that open the circuit breaker"},
    {"openai", "breaker_open_ms", "DISPATCHD_BREAKER_OPEN_MS", T_INT, F(breaker_open_ms), "30000", 10, 3600000, NULL,
     "how long the breaker stays open before one probe request (half-open)"},
    {"openai", "breaker_mode", "DISPATCHD_BREAKER_MODE", T_STR, F(breaker_mode), "fallback", 0, 0, "fallback|pause",
     "while open: classify with the local model (or rules), or hold the records (their partitions pause)"},
    {"openai", "price_input_per_mtok", NULL, T_DOUBLE, F(llm_price_in), "0.15", 0, 0, NULL,
     "USD per million prompt tokens"},
    {"openai", "price_output_per_mtok", NULL, T_DOUBLE, F(llm_price_out), "0.60", 0, 0, NULL,
     "USD per million completion tokens"},
    {"retry", "attempts", "DISPATCHD_RETRY_ATTEMPTS", T_INT, F(retry_attempts), "8", 0, 1000, NULL,
     "attempts in the retry path (issues.raw.retry) before a record goes to the DLQ as transient, the in-process "
     "round that sent it there counted; 0: no retry path, such records go straight to the DLQ"},
    {"retry", "initial_ms", "DISPATCHD_RETRY_INITIAL_MS", T_INT, F(retry_initial_ms), "30000", 1, 86400000, NULL,
     "how long a record waits in the retry path before its next attempt, doubling (jittered) up to max_ms"},
    {"retry", "max_ms", "DISPATCHD_RETRY_MAX_MS", T_INT, F(retry_max_ms), "600000", 1, 86400000, NULL,
     "the longest wait between two attempts in the retry path"},
    {"retry", "max_age_s", "DISPATCHD_RETRY_MAX_AGE_S", T_INT, F(retry_max_age_s), "86400", 0, 31536000, NULL,
     "a record failing this long after its first failure goes to the DLQ whatever its attempts; 0: no limit"},
    {"retry", "inprocess_ms", "DISPATCHD_RETRY_INPROCESS_MS", T_INT, F(retry_inprocess_ms), "0", 0, 86400000, NULL,
     "how long a record's LLM request is retried in process ([openai] max_retries also bounds it) before it "
     "leaves its partition for the retry path; 0: attempts only"},
    {"health", "lag_threshold", "DISPATCHD_LAG_THRESHOLD", T_INT, F(health_lag_threshold), "1000", 1, 2000000000,
     NULL, "GET /health/consistency says lagging when the group's lag reaches this (or is above 0 while paused)"},
    {"health", "unpublished_grace_s", NULL, T_INT, F(health_unpublished_grace_s), "60", 1, 86400, NULL,
     "a classification stored this long ago and never published, with nothing in flight, is inconsistent"},
    {"sync", "large_threshold", "LARGE_SYNC_THRESHOLD", T_INT, F(large_sync_threshold), "100", 0, 100000000, NULL,
     "issues above which a sync needs confirmation"},
    {"sync", "cost_per_issue", "COST_PER_ISSUE", T_DOUBLE, F(cost_per_issue), "0.01", 0, 0, NULL,
     "estimated USD per issue for confirmations"},
    {"github", "webhook_secret", "GITHUB_WEBHOOK_SECRET", T_STR, F(webhook_secret), NULL, 0, 0, NULL,
     "HMAC-SHA256 secret for /webhook/github"},
    {"github", "token", "GITHUB_TOKEN", T_STR, F(github_token), NULL, 0, 0, NULL, "GitHub API token"},
    {"github", "api_url", "GITHUB_API_URL", T_STR, F(github_api_url), "https://api.github.com", 0, 0, NULL,
     "GitHub REST API"},
    {"github", "sync_lease_s", NULL, T_INT, F(github_sync_lease_s), "15", 3, 600, NULL,
     "a sync from GitHub whose process is silent this long is taken over by another"},
    {"http", "addr", "DISPATCHD_HTTP_ADDR", T_STR, F(http_addr), "127.0.0.1:8080", 0, 0, NULL,
     "control plane listen address"},
    {"http", "admin_token", "DISPATCHD_ADMIN_TOKEN", T_STR, F(admin_token), NULL, 0, 0, NULL,
     "bearer token for admin paths"},
    {"http", "jwt_secret", "DISPATCHD_JWT_SECRET", T_STR, F(jwt_secret), NULL, 0, 0, NULL,
     "HS256 secret for user tokens"},
    {"http", "jwt_leeway_s", "DISPATCHD_JWT_LEEWAY_S", T_INT, F(jwt_leeway_s), "30", 0, 600, NULL,
     "clock skew allowed on a user token's exp and nbf, seconds"},
    {"http", "max_body_bytes", "DISPATCHD_HTTP_MAX_BODY_BYTES", T_INT, F(http_max_body_bytes), "1048576", 1024,
     1073741824, NULL, "largest request body read; larger ones are answered 413 before they are read"},
    {"http", "max_connections", "DISPATCHD_HTTP_MAX_CONNECTIONS", T_INT, F(http_max_connections), "1024", 1,
     1000000, NULL, "open control-plane connections at most; at the cap one that never sent a byte is closed "
     "to make room, else the new one is refused"},
    {"http", "ws_allowed_origins", "DISPATCHD_WS_ALLOWED_ORIGINS", T_STR, F(ws_allowed_origins), NULL, 0, 0, NULL,
     "Origin values allowed to open /ws (comma-separated, e.g. https://dash.example.com); the control plane's own "
     "origin is always allowed, a request without Origin (not a browser) too"},
    {"http", "ws_max_clients", "DISPATCHD_WS_MAX_CLIENTS", T_INT, F(ws_max_clients), "4096", 1, 1000000, NULL,
     "open /ws sockets at most; more are refused with 503 before the upgrade"},
    {"http", "ws_max_clients_per_user", "DISPATCHD_WS_MAX_CLIENTS_PER_USER", T_INT, F(ws_max_clients_per_user), "32",
     1, 1000000, NULL, "open /ws sockets per user token subject at most; more are refused with 429"},
    {"http", "ws_queue_bytes", "DISPATCHD_WS_QUEUE_BYTES", T_INT, F(ws_queue_bytes), "1048576", 4096, 1073741824,
     NULL, "bytes a /ws socket may have queued; a client further behind is closed (1013, slow consumer)"},
    {"http", "ws_ping_interval_s", "DISPATCHD_WS_PING_INTERVAL_S", T_INT, F(ws_ping_interval_s), "25", 1, 3600, NULL,
     "a /ws socket is pinged this often and closed when a ping goes unanswered until the next"},
    {"runtime", "threads", "DISPATCHD_THREADS", T_INT, F(threads), "0", 0, 1024, NULL,
     "scheduler threads; 0 = cores"},
    {"runtime", "log", "DISPATCHD_LOG", T_STR, F(log_level), "info", 0, 0, "debug|info|warn|error", "log level"},
    {"pipeline", "ordering", "DISPATCHD_ORDERING", T_STR, F(ordering), "key", 0, 0, "partition|key|unordered",
     "per-partition processing order"},
    {"pipeline", "max_inflight", "DISPATCHD_MAX_INFLIGHT", T_INT, F(max_inflight), "1000", 1, 1000000, NULL,
     "records in flight per partition"},
    {"pipeline", "max_message_bytes", NULL, T_INT, F(max_message_bytes), "0", 0, 1000000000, NULL,
     "larger input records go to the DLQ; 0: the producer's message.max.bytes less 64 KiB for the classification"},
    {"pipeline", "storage_batch_size", NULL, T_INT, F(storage_batch_size), "256", 2, 100000, NULL,
     "rows per database transaction at most; 1 would make every batch one row (~10x slower)"},
    {"pipeline", "storage_batch_window_ms", NULL, T_INT, F(storage_batch_window_ms), "5", 1, 60000, NULL,
     "how long a partial batch waits for company; 0 would make every batch one row (~10x slower)"},
    {"pipeline", "drain_timeout_ms", NULL, T_INT, F(drain_timeout_ms), "30000", 0, 3600000, NULL,
     "how long shutdown waits for in-flight records"},
    {"pipeline", "shutdown_timeout_ms", "DISPATCHD_SHUTDOWN_TIMEOUT_MS", T_INT, F(shutdown_timeout_ms), "60000", 1000,
     3600000, NULL, "a stop signal ends the process within this long (drain included); past it, exit 3"},
    {"pipeline", "commit_interval_ms", NULL, T_INT, F(commit_interval_ms), "200", 10, 60000, NULL,
     "how often finished offsets are committed"},
    {"pipeline", "revoke_wait_ms", NULL, T_INT, F(revoke_wait_ms), "10000", 0, 300000, NULL,
     "how long a revoked partition waits for its in-flight records"},
    {"pipeline", "stages", "DISPATCHD_STAGES", T_STR, F(stages), "full", 0, 0, "full|noop|classify",
     "benchmarks: noop finishes each record at the classifier, classify after classifying; both skip storage "
     "and publishing"},
    {"pipeline", "storage_connections", "DISPATCHD_STORAGE_CONNECTIONS", T_INT, F(storage_connections), "2", 1, 64,
     NULL, "database connections writing rows, each its own thread; an issue always goes to the same one"},
    {"pipeline", "state_dir", "DISPATCHD_STATE_DIR", T_STR, F(state_dir), "var/run", 0, 0, NULL,
     "where run writes its embedded broker address"},
#ifdef DISPATCHD_FAULTS
    /* Fault injection: only in dispatchd-faults, the test binary (faults.h). */
    {"faults", "hold_ms", "DISPATCHD_HOLD_MS", T_INT, F(hold_ms), "0", 0, 600000, NULL,
     "hold each record this long before classifying (a slow model)"},
    {"faults", "hold_jitter_ms", "DISPATCHD_HOLD_JITTER_MS", T_INT, F(hold_jitter_ms), "0", 0, 600000, NULL,
     "add a random 0..N ms to each hold"},
    {"faults", "stall_file", "DISPATCHD_STALL_FILE", T_STR, F(stall_file), NULL, 0, 0, NULL,
     "while this file exists, the classifier holds every record (a stalled downstream)"},
    {"faults", "kill_after_commits", "DISPATCHD_FAULT_KILL_AFTER_COMMITS", T_INT, F(fault_kill_after_commits),
     "0", 0, 1000000, NULL, "kill -9 the process right after the Nth batch commits in the database"},
    {"faults", "classify_audit_file", "DISPATCHD_CLASSIFY_AUDIT_FILE", T_STR, F(classify_audit_file), NULL, 0, 0,
     NULL, "append 'partition offset ms sync' to this file for every classification made"},
    {"faults", "watermark_fail_partition", "DISPATCHD_FAULT_WATERMARK_PARTITION", T_INT,
     F(fault_watermark_partition), "-1", -1, 1023, NULL,
     "the snapshot's watermark question for this input partition fails (a broker error on one partition)"},
#endif
};

#define NDESCS (sizeof(DESCS) / sizeof(DESCS[0]))

static int set_value(config_t *cfg, const cfg_desc_t *d, const char *value, const char *origin,
                     char *err, size_t errlen)
{
    void *field = (char *)cfg + d->offset;
    switch (d->type) {
    case T_STR: {
        if (d->choices != NULL) {
            char buf[128];
            snprintf(buf, sizeof(buf), "|%s|", d->choices);
            char needle[64];
            snprintf(needle, sizeof(needle), "|%s|", value);
            if (value[0] == '\0' || strstr(buf, needle) == NULL) {
                snprintf(err, errlen, "%s: %s.%s must be one of %s, not '%s'", origin, d->section, d->key,
                         d->choices, value);
                return -1;
            }
        }
        char **s = field;
        free(*s);
        *s = strdup(value);
        return 0;
    }
    case T_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < d->min || v > d->max) {
            snprintf(err, errlen, "%s: %s.%s must be an integer in [%ld, %ld], not '%s'%s%s", origin, d->section,
                     d->key, d->min, d->max, value, d->help ? ": " : "", d->help ? d->help : "");
            return -1;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case T_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end != '\0' || v < 0) {
            snprintf(err, errlen, "%s: %s.%s must be a non-negative number, not '%s'", origin, d->section,
                     d->key, value);
            return -1;
        }
        *(double *)field = v;
        return 0;
    }
    }
    return -1;
}

typedef struct ini_ctx {
    config_t *cfg;
    const char *file;
    char *err;
    size_t errlen;
    int failed;
} ini_ctx_t;

static void add_prop(kv_t **props, size_t *n, const char *key, const char *value)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*props)[i].key, key) == 0) {
            free((*props)[i].value);
            (*props)[i].value = strdup(value);
            return;
        }
    }
    *props = realloc(*props, (*n + 1) * sizeof(kv_t));
    (*props)[*n].key = strdup(key);
    (*props)[*n].value = strdup(value);
    (*n)++;
}

/* [user_limits] user_id = classifications per UTC day */
static int add_user_limit(config_t *cfg, const char *file, const char *user, const char *value, char *err,
                          size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0' || v < 0 || v > 1000000000) {
        snprintf(err, errlen, "%s: user_limits.%s must be an integer in [0, 1000000000], not '%s'", file, user,
                 value);
        return -1;
    }
    if (strlen(user) > 255) {
        snprintf(err, errlen, "%s: user_limits: a user id is at most 255 bytes", file);
        return -1;
    }
    add_prop(&cfg->user_limits, &cfg->n_user_limits, user, value);
    return 0;
}

static int on_ini(void *user, const char *section, const char *key, const char *value)
{
    ini_ctx_t *c = user;
    if (c->failed)
        return 0;
    for (size_t i = 0; i < NDESCS; i++) {
        if (strcmp(DESCS[i].section, section) == 0 && strcmp(DESCS[i].key, key) == 0) {
            if (set_value(c->cfg, &DESCS[i], value, c->file, c->err, c->errlen) != 0) {
                c->failed = 1;
                return 0;
            }
            return 1;
        }
    }
    if (strcmp(section, "kafka") == 0) {
        add_prop(&c->cfg->kafka_props, &c->cfg->n_kafka_props, key, value);
        return 1;
    }
    if (strcmp(section, "user_limits") == 0) {
        if (add_user_limit(c->cfg, c->file, key, value, c->err, c->errlen) != 0) {
            c->failed = 1;
            return 0;
        }
        return 1;
    }
    snprintf(c->err, c->errlen, "%s: unknown key '%s' in section [%s]", c->file, key, section);
    c->failed = 1;
    return 0;
}

/* pipeline.{pipeline}.step.{step}.(input|output|error|dead-letter), each
 * {name} one or more of [A-Za-z0-9_-]. */
static bool pipeline_topic(const char *t)
{
    static const char *ends[] = {"input", "output", "error", "dead-letter"};
    if (strncmp(t, "pipeline.", 9) != 0)
        return false;
    const char *p = t + 9;
    size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    if (n == 0 || strncmp(p + n, ".step.", 6) != 0)
        return false;
    p += n + 6;
    n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    if (n == 0 || p[n] != '.')
        return false;
    p += n + 1;
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
        if (strcmp(p, ends[i]) == 0)
            return true;
    return false;
}

static bool whitelisted(const char *t, const char *list)
{
    size_t n = strlen(t);
    for (const char *p = list; p && *p;) {
        p += strspn(p, " ,");
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed > 0 && p[trimmed - 1] == ' ')
            trimmed--;
        if (trimmed == n && strncmp(p, t, n) == 0)
            return true;
        p += len;
    }
    return false;
}

static int check_topics(const config_t *cfg, char *err, size_t errlen)
{
    const struct { const char *key; const char *name; } topics[] = {
        {"raw", cfg->topic_raw}, {"enriched", cfg->topic_enriched}, {"dlq", cfg->topic_dlq},
        {"control", cfg->topic_control}, {"retry", cfg->topic_retry},
    };
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        const char *t = topics[i].name;
        size_t n = strlen(t);
        if (n == 0 || n > 249 || strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n) {
            snprintf(err, errlen, "topics.%s: '%s' is not a legal Kafka topic name", topics[i].key, t);
            return -1;
        }
        if (!pipeline_topic(t) && !whitelisted(t, cfg->topics_allowed)) {
            snprintf(err, errlen,
                     "topics.%s: '%s' follows neither pipeline.{pipeline}.step.{step}.(input|output|error|dead-letter) "
                     "nor [topics] allowed", topics[i].key, t);
            return -1;
        }
    }
    return 0;
}

int config_load(config_t *cfg, const char *file, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NDESCS; i++)
        if (DESCS[i].def != NULL && set_value(cfg, &DESCS[i], DESCS[i].def, "default", err, errlen) != 0)
            return -1;

    if (file != NULL) {
        cfg->file = strdup(file);
        FILE *f = fopen(file, "r");
        if (f == NULL) {
            snprintf(err, errlen, "--config: cannot open '%s': %s", file, strerror(errno));
            return -1;
        }
        ini_ctx_t c = {cfg, file, err, errlen, 0};
        int rc = ini_parse_file(f, on_ini, &c);
        fclose(f);
        if (c.failed)
            return -1;
        if (rc != 0) {
            snprintf(err, errlen, "%s:%d: not valid INI syntax", file, rc);
            return -1;
        }
    }

    for (size_t i = 0; i < NDESCS; i++) {
        const char *v = DESCS[i].env ? getenv(DESCS[i].env) : NULL;
        if (v != NULL && set_value(cfg, &DESCS[i], v, DESCS[i].env, err, errlen) != 0)
            return -1;
    }

    if (check_topics(cfg, err, errlen) != 0)
        return -1;
    if (cfg->classifier == NULL)
        cfg->classifier = strdup(access(cfg->model_file, R_OK) == 0 ? "local" : "rules");
    return 0;
}

const char *config_kafka_prop(const config_t *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n_kafka_props; i++)
        if (strcmp(cfg->kafka_props[i].key, key) == 0)
            return cfg->kafka_props[i].value;
    return NULL;
}

static void free_props(kv_t **props, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        free((*props)[i].key);
        free((*props)[i].value);
    }
    free(*props);
    *props = NULL;
    *n = 0;
}

/* A typical issue's classification call: the prompt with title and body,
 * and the JSON answer. */
#define TYPICAL_PROMPT_TOKENS 900
#define TYPICAL_ANSWER_TOKENS 250

double config_llm_call_cost(const config_t *cfg)
{
    double per_call = (TYPICAL_PROMPT_TOKENS * cfg->llm_price_in + TYPICAL_ANSWER_TOKENS * cfg->llm_price_out) / 1e6;
    return per_call > 0 ? per_call : cfg->cost_per_issue;
}

double config_sync_cost(const config_t *cfg, long issues)
{
    bool llm = strcmp(cfg->classifier, "openai") == 0 || strcmp(cfg->classifier, "cascade") == 0;
    return (double)issues * (llm ? config_llm_call_cost(cfg) : cfg->cost_per_issue);
}

void config_free(config_t *cfg)
{
    for (size_t i = 0; i < NDESCS; i++)
        if (DESCS[i].type == T_STR) {
            char **s = (char **)((char *)cfg + DESCS[i].offset);
            free(*s);
            *s = NULL;
        }
    free_props(&cfg->kafka_props, &cfg->n_kafka_props);
    free_props(&cfg->user_limits, &cfg->n_user_limits);
    free(cfg->file);
    cfg->file = NULL;
}

void config_print_reference(void)
{
    printf("%-34s %-28s %s\n", "[section] key", "environment", "default -- meaning");
    for (size_t i = 0; i < NDESCS; i++) {
        char sk[64];
        snprintf(sk, sizeof(sk), "[%s] %s", DESCS[i].section, DESCS[i].key);
        printf("%-34s %-28s %s -- %s\n", sk, DESCS[i].env ? DESCS[i].env : "-",
               DESCS[i].def ? DESCS[i].def : "(unset)", DESCS[i].help);
    }
    printf("%-34s %-28s %s\n", "[kafka] any.librdkafka.property", "-", "passed to librdkafka as-is");
    printf("%-34s %-28s %s\n", "[user_limits] user_id", "-",
           "that user's LLM classifications per UTC day (instead of user_daily_limit)");
}

long config_user_limit(const config_t *cfg, const char *user)
{
    for (size_t i = 0; i < cfg->n_user_limits; i++)
        if (strcmp(cfg->user_limits[i].key, user) == 0)
            return atol(cfg->user_limits[i].value);
    return cfg->user_daily_limit;
}
