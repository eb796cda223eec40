/*
 * config.h -- dispatchd's configuration: an INI file and the environment,
 * the environment winning. Every key has one descriptor (config.c) naming its
 * section, key, environment variable, type and default. Unknown keys are an
 * error; every key of [kafka] goes to librdkafka as-is.
 */
#ifndef DISPATCHD_CONFIG_H
#define DISPATCHD_CONFIG_H

#include <stddef.h>

typedef struct kv {
    char *key;
    char *value;
} kv_t;

typedef struct config {
    char *file;                    /* the file it was loaded from, NULL if none (a reload reads it again) */
    /* [kafka] */
    char *kafka_bootstrap;         /* KAFKA_BOOTSTRAP_SERVERS; "embedded" = mock cluster */
    kv_t *kafka_props;             /* other librdkafka properties, in file order */
    size_t n_kafka_props;
    char *group_id;
    char *instance_id;             /* group.instance.id, NULL: dynamic membership */
    char *topic_raw, *topic_enriched, *topic_dlq, *topic_control, *topic_retry;
    char *topics_allowed;          /* comma-separated whitelist beside the pipeline convention */
    int topic_partitions;

    /* [database] */
    char *database_url;
    int db_retry_max_ms;           /* the storage retry policy's cap (backoff.h) */

    /* [classifier], [openai] */
    char *classifier;              /* local, rules, openai, cascade */
    char *model_file;
    double cascade_threshold;      /* cascade: below this local confidence, ask the LLM */
    char *openai_api_key, *openai_base_url, *openai_model;
    int llm_timeout_ms, llm_max_retries, llm_max_inflight, llm_body_chars;
    int llm_retry_initial_ms, llm_retry_max_ms;   /* the LLM retry policy's values (backoff.h) */
    int breaker_failures, breaker_open_ms;
    char *breaker_mode;            /* fallback | pause */
    double llm_price_in, llm_price_out;  /* USD per million tokens */
    int classify_rate_limit;
    int daily_limit;               /* LLM classifications per UTC day, whole group */
    int user_daily_limit;          /* per user, unless in user_limits; -1: none */
    kv_t *user_limits;             /* [user_limits] user id = daily limit */
    size_t n_user_limits;
    char *budget_mode;             /* pause | fallback */
    int token_rate_limit;          /* tokens per minute, whole group; 0: none */

    /* [retry]: the retry path (BACKOFF_RETRY_PATH with these values) */
    int retry_attempts;            /* 0: no retry path */
    int retry_initial_ms, retry_max_ms, retry_max_age_s, retry_inprocess_ms;

    /* [health]: GET /health/consistency's verdicts */
    int health_lag_threshold, health_unpublished_grace_s;

    /* [sync], [github] */
    int large_sync_threshold;
    double cost_per_issue;
    char *webhook_secret, *github_token, *github_api_url;
    int github_sync_lease_s;

    /* [http] */
    char *http_addr, *admin_token, *jwt_secret;
    int jwt_leeway_s;              /* clock skew allowed on exp and nbf */
    int http_max_body_bytes;       /* request bodies larger are refused (413) */
    int http_max_connections;
    char *ws_allowed_origins;      /* comma-separated; the server's own origin is always allowed */
    int ws_max_clients, ws_max_clients_per_user;
    int ws_queue_bytes;            /* a socket's send queue bound: beyond it, a slow consumer */
    int ws_ping_interval_s;

    /* [runtime] */
    int threads;
    char *log_level;

    /* [pipeline] */
    char *ordering;                /* partition, key, unordered */
    int max_inflight;              /* records in flight per partition */
    int max_message_bytes;
    int storage_batch_size;
    int storage_batch_window_ms;
    int drain_timeout_ms;
    int shutdown_timeout_ms;       /* the whole stop, drain included, at most */
    int commit_interval_ms;        /* offsets and offset maps committed this often */
    int revoke_wait_ms;            /* a revoked partition waits this long for in-flight records */
    /* [faults]: set only in dispatchd-faults, the test binary (faults.h) */
    int hold_ms, hold_jitter_ms;   /* hold each record in the classifier */
    char *stages;                  /* "full", or "noop": done right after the hold (benchmarks) */
    int storage_connections;       /* storage actors, one connection each */
    int fault_kill_after_commits;  /* [faults]: SIGKILL after the Nth database batch commit */
    char *classify_audit_file;     /* [faults]: one line per classification made */
    char *stall_file;              /* [faults]: while this file exists the classifier stalls */
    int fault_watermark_partition; /* [faults]: the status snapshot's broker question for this
                                      input partition fails (-1: none) */
    char *state_dir;               /* where `run` leaves the embedded broker's address */
} config_t;

/* Loads defaults, then FILE (may be NULL: config/dispatchd.conf is NOT read
 * implicitly), then the environment. On error returns -1 with a one-line
 * message naming the key in err. */
int config_load(config_t *cfg, const char *file, char *err, size_t errlen);
void config_free(config_t *cfg);

/* What classifying `issues` issues is expected to cost (the large-sync
 * confirmation): by the LLM price table when the classifier calls an LLM
 * (a typical issue's prompt and answer), else COST_PER_ISSUE each. */
double config_sync_cost(const config_t *cfg, long issues);
/* What one LLM classification of a typical issue costs at the configured
 * prices (cost_per_issue when they are 0). */
double config_llm_call_cost(const config_t *cfg);
/* A [kafka] property's value, or NULL. */
const char *config_kafka_prop(const config_t *cfg, const char *key);
/* The user's daily LLM limit: [user_limits], else user_daily_limit (-1:
 * none). */
long config_user_limit(const config_t *cfg, const char *user);

/* A hook for `--help`: prints every key, its env name and default. */
void config_print_reference(void);

#endif
