#include "schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

typedef struct migration {
    int version;
    const char *name;
    const char *sql;
} migration_t;

static const migration_t MIGRATIONS[] = {
    {1, "issues, enriched_issues, repository_syncs",
     "CREATE SCHEMA IF NOT EXISTS dispatchai;"
     "CREATE TABLE dispatchai.issues ("
     "  id bigserial PRIMARY KEY,"
     "  github_issue_id bigint UNIQUE NOT NULL,"
     "  repository_owner varchar(255) NOT NULL,"
     "  repository_name varchar(255) NOT NULL,"
     "  issue_number integer NOT NULL,"
     "  title text NOT NULL,"
     "  body text,"
     "  state varchar(20) NOT NULL DEFAULT 'open',"
     "  labels jsonb NOT NULL DEFAULT '[]',"
     "  assignees jsonb NOT NULL DEFAULT '[]',"
     "  author varchar(255),"
     "  created_at timestamptz,"
     "  updated_at timestamptz,"
     "  closed_at timestamptz,"
     "  raw_data jsonb,"
     "  sync_source varchar(20) NOT NULL DEFAULT 'webhook'"
     "    CHECK (sync_source IN ('webhook', 'manual_pull')),"
     "  pulled_by_user_id varchar(255),"
     "  processed_at timestamptz NOT NULL DEFAULT now(),"
     "  UNIQUE (repository_owner, repository_name, issue_number));"
     "CREATE TABLE dispatchai.enriched_issues ("
     "  id bigserial PRIMARY KEY,"
     "  issue_id bigint UNIQUE NOT NULL REFERENCES dispatchai.issues(id) ON DELETE CASCADE,"
     "  classification jsonb NOT NULL,"
     "  category varchar(20),"
     "  priority varchar(20),"
     "  severity varchar(20),"
     "  estimated_effort varchar(20),"
     "  component varchar(100),"
     "  confidence_score numeric(5,4) CHECK (confidence_score >= 0 AND confidence_score <= 1),"
     "  tags text[],"
     "  summary text,"
     "  ai_reasoning text,"
     "  processing_model varchar(100),"
     "  provider varchar(20),"
     "  cost_usd numeric(12,6) NOT NULL DEFAULT 0,"
     "  source_updated_at timestamptz,"  /* the issue version this classifies */
     "  processed_at timestamptz NOT NULL DEFAULT now());"
     "CREATE INDEX ON dispatchai.enriched_issues (category);"
     "CREATE INDEX ON dispatchai.enriched_issues (priority);"
     "CREATE TABLE dispatchai.repository_syncs ("
     "  id bigserial PRIMARY KEY,"
     "  user_id varchar(255) NOT NULL,"
     "  repository_owner varchar(255) NOT NULL,"
     "  repository_name varchar(255) NOT NULL,"
     "  sync_id varchar(64) NOT NULL,"
     "  sync_status varchar(20) NOT NULL DEFAULT 'pending'"
     "    CHECK (sync_status IN ('pending', 'syncing', 'completed', 'cancelled', 'failed')),"
     "  issues_total integer NOT NULL DEFAULT 0,"
     "  issues_synced integer NOT NULL DEFAULT 0,"
     "  issues_classified integer NOT NULL DEFAULT 0,"
     "  error_message text,"
     "  created_at timestamptz NOT NULL DEFAULT now(),"
     "  updated_at timestamptz NOT NULL DEFAULT now(),"
     "  UNIQUE (user_id, repository_owner, repository_name));"
     "CREATE INDEX ON dispatchai.repository_syncs (sync_id);"},
    {2, "enriched_issues.published_at",
     /* When the enriched event of this issue version was acknowledged by
      * Kafka: a replay after a crash between the database commit and the
      * acknowledgement publishes it then, instead of never. */
     "ALTER TABLE dispatchai.enriched_issues ADD COLUMN published_at timestamptz;"
     "UPDATE dispatchai.enriched_issues SET published_at = processed_at;"},
    {3, "applied_offsets",
     /* The Kafka records whose rows are committed, written in the same
      * transaction as the rows: a crash between the database commit and the
      * Kafka offset commit then re-applies and re-classifies nothing. Rows
      * below the group's committed offset are pruned. */
     "CREATE TABLE dispatchai.applied_offsets ("
     "  consumer_group varchar(255) NOT NULL,"
     "  topic varchar(255) NOT NULL,"
     "  kafka_partition integer NOT NULL,"
     "  kafka_offset bigint NOT NULL,"
     "  applied_at timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (consumer_group, topic, kafka_partition, kafka_offset));"},
    {4, "llm_rate_buckets",
     /* The group's LLM request bucket: every process leases slices of it,
      * so the group never exceeds CLASSIFY_RATE_LIMIT (see llm.c). */
     "CREATE TABLE dispatchai.llm_rate_buckets ("
     "  name varchar(64) PRIMARY KEY,"
     "  tokens double precision NOT NULL,"
     "  updated_at timestamptz NOT NULL);"},
    {5, "llm_budgets",
     /* Daily LLM budgets (llm_quota.h): one row per UTC day for the group
      * (scope '') and one per user ('user:' || id); and a pause of a rate
      * bucket for the whole group (a 429's Retry-After). The grant is a
      * function so that it is one atomic round trip. */
     "CREATE TABLE dispatchai.llm_budget_usage ("
     "  day date NOT NULL,"
     "  scope varchar(300) NOT NULL,"
     "  used bigint NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (day, scope));"
     "ALTER TABLE dispatchai.llm_rate_buckets ADD COLUMN paused_until timestamptz;"
     "CREATE FUNCTION dispatchai.llm_budget_take(p_user text, p_n integer, p_global bigint, p_user_limit bigint)"
     " RETURNS TABLE (granted integer, used bigint) LANGUAGE plpgsql AS $$"
     " DECLARE d date := (now() AT TIME ZONE 'UTC')::date; g bigint; u bigint; n integer := greatest(p_n, 0);"
     " BEGIN"
     "  INSERT INTO dispatchai.llm_budget_usage (day, scope) VALUES (d, '') ON CONFLICT DO NOTHING;"
     "  SELECT b.used INTO g FROM dispatchai.llm_budget_usage b WHERE b.day = d AND b.scope = '' FOR UPDATE;"
     "  n := least(n, greatest(p_global - g, 0));"
     "  IF p_user <> '' THEN"
     "   INSERT INTO dispatchai.llm_budget_usage (day, scope) VALUES (d, 'user:' || p_user) ON CONFLICT DO NOTHING;"
     "   SELECT b.used INTO u FROM dispatchai.llm_budget_usage b WHERE b.day = d AND b.scope = 'user:' || p_user"
     "    FOR UPDATE;"
     "   IF p_user_limit >= 0 THEN n := least(n, greatest(p_user_limit - u, 0)); END IF;"
     "   UPDATE dispatchai.llm_budget_usage b SET used = b.used + n WHERE b.day = d AND b.scope = 'user:' || p_user;"
     "  END IF;"
     "  UPDATE dispatchai.llm_budget_usage b SET used = b.used + n WHERE b.day = d AND b.scope = '';"
     "  RETURN QUERY SELECT n, g + n;"
     " END $$;"},
    {6, "sync_notify",
     /* Every change of a sync -- registered, counted by a storing
      * transaction, completed, cancelled, failed -- is announced on the
      * channel dispatchd_syncs when its transaction commits, whichever
      * process or command made it: the broadcasters of every process
      * LISTEN (broadcaster.c). An update that changes nothing a dashboard
      * shows is not announced. */
     "CREATE FUNCTION dispatchai.sync_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
     " BEGIN"
     "  IF TG_OP = 'UPDATE' AND OLD.sync_status = NEW.sync_status AND OLD.issues_total = NEW.issues_total"
     "   AND OLD.issues_synced = NEW.issues_synced"
     "   AND OLD.issues_classified IS NOT DISTINCT FROM NEW.issues_classified THEN RETURN NULL; END IF;"
     "  PERFORM pg_notify('dispatchd_syncs', json_build_object('sync_id', NEW.sync_id, 'user_id', NEW.user_id,"
     "   'repository', NEW.repository_owner || '/' || NEW.repository_name, 'status', NEW.sync_status,"
     "   'issues_total', NEW.issues_total, 'issues_synced', NEW.issues_synced,"
     "   'issues_classified', NEW.issues_classified, 'error', left(NEW.error_message, 500))::text);"
     "  RETURN NULL;"
     " END $$;"
     "CREATE TRIGGER sync_notify AFTER INSERT OR UPDATE ON dispatchai.repository_syncs"
     " FOR EACH ROW EXECUTE FUNCTION dispatchai.sync_notify();"},
    {7, "syncs from the GitHub API",
     /* issues.last_sync_id: the sync that stored this version, so a sync
      * that publishes a page again after a restart counts nothing twice
      * (ledger.c). repository_syncs: where a GitHub sync is (its cursor,
      * counts, waits) and who runs it (a lease the running process renews;
      * an expired one is taken over: gh_sync_store.c). github_pages: each
      * fetched page's ETag and where it led, for conditional requests;
      * github_repos: how far a repository's issues were fetched, for
      * incremental resyncs; github_tokens: the token's one request at a
      * time and GitHub's waits, for the whole group. No token is stored
      * anywhere. */
     "ALTER TABLE dispatchai.issues ADD COLUMN last_sync_id varchar(64);"
     "ALTER TABLE dispatchai.repository_syncs"
     "  ADD COLUMN source varchar(10) NOT NULL DEFAULT 'file' CHECK (source IN ('file', 'github')),"
     "  ADD COLUMN fetching boolean NOT NULL DEFAULT false,"
     "  ADD COLUMN issues_fetched integer NOT NULL DEFAULT 0,"
     "  ADD COLUMN issues_published integer NOT NULL DEFAULT 0,"
     "  ADD COLUMN issues_unchanged integer NOT NULL DEFAULT 0,"
     "  ADD COLUMN prs_skipped integer NOT NULL DEFAULT 0,"
     "  ADD COLUMN pages_fetched integer NOT NULL DEFAULT 0,"
     "  ADD COLUMN rate_limit_waits integer NOT NULL DEFAULT 0,"
     "  ADD COLUMN waiting_until timestamptz,"
     "  ADD COLUMN waiting_reason text,"
     "  ADD COLUMN cursor jsonb,"
     "  ADD COLUMN fetch_started_at timestamptz,"
     "  ADD COLUMN lease_owner varchar(64),"
     "  ADD COLUMN lease_until timestamptz;"
     "CREATE TABLE dispatchai.github_pages ("
     "  repository text NOT NULL,"
     "  url text NOT NULL,"
     "  etag text NOT NULL,"
     "  after jsonb NOT NULL,"   /* the cursor after the page and its counts */
     "  fetched_at timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (repository, url));"
     "CREATE TABLE dispatchai.github_repos ("
     "  repository text PRIMARY KEY,"
     "  cursor jsonb NOT NULL,"   /* where the next sync starts */
     "  synced_at timestamptz NOT NULL DEFAULT now());"
     /* The token's one request at a time, and its limits' waits, for every
      * process of the group (keyed by the API's URL, never the token). */
     "CREATE TABLE dispatchai.github_tokens ("
     "  api_url text PRIMARY KEY,"
     "  holder varchar(64),"
     "  busy_until timestamptz,"
     "  not_before timestamptz,"
     "  reason text,"
     "  rate_limit boolean NOT NULL DEFAULT false);"
     /* Progress of the fetch is announced too (not the lease's renewals). */
     "CREATE OR REPLACE FUNCTION dispatchai.sync_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
     " BEGIN"
     "  IF TG_OP = 'UPDATE' AND OLD.sync_status = NEW.sync_status AND OLD.issues_total = NEW.issues_total"
     "   AND OLD.issues_synced = NEW.issues_synced"
     "   AND OLD.issues_classified IS NOT DISTINCT FROM NEW.issues_classified"
     "   AND OLD.issues_fetched = NEW.issues_fetched AND OLD.issues_published = NEW.issues_published"
     "   AND OLD.waiting_until IS NOT DISTINCT FROM NEW.waiting_until THEN RETURN NULL; END IF;"
     "  PERFORM pg_notify('dispatchd_syncs', json_build_object('sync_id', NEW.sync_id, 'user_id', NEW.user_id,"
     "   'repository', NEW.repository_owner || '/' || NEW.repository_name, 'status', NEW.sync_status,"
     "   'source', NEW.source, 'issues_total', NEW.issues_total, 'issues_fetched', NEW.issues_fetched,"
     "   'issues_published', NEW.issues_published, 'issues_synced', NEW.issues_synced,"
     "   'issues_classified', NEW.issues_classified, 'prs_skipped', NEW.prs_skipped,"
     "   'waiting_until', NEW.waiting_until, 'waiting_reason', NEW.waiting_reason,"
     "   'error', left(NEW.error_message, 500))::text);"
     "  RETURN NULL;"
     " END $$;"},
    {8, "DLQ replays",
     /* The DLQ offsets replayed to the input, as ranges (a replay reads a
      * partition in order), so replaying a range again sends only what was
      * never sent (dlq_replays.c). */
     "CREATE TABLE dispatchai.dlq_replays ("
     "  topic text NOT NULL,"
     "  partition integer NOT NULL,"
     "  first_offset bigint NOT NULL,"
     "  last_offset bigint NOT NULL,"
     "  job_id varchar(64) NOT NULL,"
     "  replayed_at timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (topic, partition, first_offset));"},
    {9, "rows deleted outside dispatchd",
     /* Issues or classifications deleted by anyone but dispatchd (whose
      * own deletes say so: SET LOCAL dispatchd.deleting) are noted, so
      * GET /health/consistency can say the database lost rows behind the
      * pipeline's back. NULL rows: a TRUNCATE. */
     "CREATE TABLE dispatchai.outside_deletes ("
     "  at timestamptz NOT NULL DEFAULT now(),"
     "  table_name text NOT NULL,"
     "  rows bigint);"
     "CREATE FUNCTION dispatchai.note_outside_delete() RETURNS trigger LANGUAGE plpgsql AS $$"
     " DECLARE n bigint;"
     " BEGIN"
     "  IF coalesce(current_setting('dispatchd.deleting', true), '') <> '' THEN RETURN NULL; END IF;"
     "  IF TG_OP = 'TRUNCATE' THEN n := NULL; ELSE SELECT count(*) INTO n FROM gone; END IF;"
     "  IF n IS NULL OR n > 0 THEN"
     "   INSERT INTO dispatchai.outside_deletes (table_name, rows) VALUES (TG_TABLE_NAME, n);"
     "  END IF;"
     "  RETURN NULL;"
     " END $$;"
     "CREATE TRIGGER issues_outside_delete AFTER DELETE ON dispatchai.issues REFERENCING OLD TABLE AS gone"
     " FOR EACH STATEMENT EXECUTE FUNCTION dispatchai.note_outside_delete();"
     "CREATE TRIGGER enriched_outside_delete AFTER DELETE ON dispatchai.enriched_issues REFERENCING OLD TABLE AS gone"
     " FOR EACH STATEMENT EXECUTE FUNCTION dispatchai.note_outside_delete();"
     "CREATE TRIGGER issues_outside_truncate AFTER TRUNCATE ON dispatchai.issues"
     " FOR EACH STATEMENT EXECUTE FUNCTION dispatchai.note_outside_delete();"
     "CREATE TRIGGER enriched_outside_truncate AFTER TRUNCATE ON dispatchai.enriched_issues"
     " FOR EACH STATEMENT EXECUTE FUNCTION dispatchai.note_outside_delete();"},
    {10, "process heartbeats",
     /* Each process of a group says every 2 s that it is there, what it
      * owns and how it does (processes.c): how the status page knows the
      * whole group, and shows a silent process as gone. */
     "CREATE TABLE dispatchai.processes ("
     "  process_id varchar(64) PRIMARY KEY,"
     "  group_id text NOT NULL,"
     "  host text NOT NULL,"
     "  version text NOT NULL,"
     "  pid integer NOT NULL,"
     "  started_at timestamptz NOT NULL,"
     "  heartbeat_at timestamptz NOT NULL DEFAULT now(),"
     "  state varchar(10) NOT NULL,"
     "  rss_bytes bigint NOT NULL,"
     "  partitions jsonb NOT NULL,"
     "  figures jsonb NOT NULL);"
     "CREATE INDEX ON dispatchai.processes (group_id, heartbeat_at);"},
    {11, "texts stored once, lz4, room for published marks",
     /* What each event costs the database (the README's "Where an event's
      * CPU goes"). raw_data no longer holds the title and body
      * (event_text.h): they were stored, compressed and logged twice; the
      * view issues_full gives raw_data back whole, for queries written
      * against the original schema. The large columns compress with lz4
      * where the server has it (pglz was a fifth of its CPU); a server
      * without keeps pglz. enriched_issues leaves room on each page, so
      * marking an event published rewrites its row on the same page
      * without touching its indexes (a HOT update). */
     "DO $$ BEGIN"
     "  IF EXISTS (SELECT 1 FROM pg_settings WHERE name LIKE '%toast_compression'"
     "             AND 'lz4' = ANY(enumvals)) THEN"
     "   ALTER TABLE dispatchai.issues ALTER COLUMN body SET COMPRESSION lz4,"
     "    ALTER COLUMN raw_data SET COMPRESSION lz4, ALTER COLUMN labels SET COMPRESSION lz4;"
     "   ALTER TABLE dispatchai.enriched_issues ALTER COLUMN classification SET COMPRESSION lz4,"
     "    ALTER COLUMN ai_reasoning SET COMPRESSION lz4;"
     "  END IF;"
     " END $$;"
     "ALTER TABLE dispatchai.enriched_issues SET (fillfactor = 50);"
     "CREATE VIEW dispatchai.issues_full AS SELECT id, github_issue_id, repository_owner, repository_name,"
     " issue_number, title, body, state, labels, assignees, author, created_at, updated_at, closed_at,"
     " CASE WHEN jsonb_typeof(raw_data->'issue') = 'object' THEN jsonb_set(raw_data, '{issue}',"
     "  (raw_data->'issue') || jsonb_strip_nulls(jsonb_build_object('title', title, 'body', body)))"
     "  ELSE raw_data END AS raw_data,"
     " sync_source, pulled_by_user_id, processed_at, last_sync_id FROM dispatchai.issues;"},
    {12, "applied offsets by batch",
     /* A row per partition of each storing transaction, its records'
      * offsets in an array, instead of a row per record: the per-event
      * insert, index entry and later delete were a tenth of the
      * database's work. Rows a batch holds are pruned together, once
      * Kafka has committed past its last offset (ledger.c). */
     "CREATE TABLE dispatchai.applied_batches ("
     "  consumer_group varchar(255) NOT NULL,"
     "  topic varchar(255) NOT NULL,"
     "  kafka_partition integer NOT NULL,"
     "  last_offset bigint NOT NULL,"
     "  kafka_offsets bigint[] NOT NULL,"
     "  applied_at timestamptz NOT NULL DEFAULT now());"
     "CREATE INDEX ON dispatchai.applied_batches (consumer_group, topic, kafka_partition, last_offset);"
     "INSERT INTO dispatchai.applied_batches (consumer_group, topic, kafka_partition, last_offset, kafka_offsets)"
     " SELECT consumer_group, topic, kafka_partition, max(kafka_offset), array_agg(kafka_offset ORDER BY kafka_offset)"
     " FROM dispatchai.applied_offsets GROUP BY consumer_group, topic, kafka_partition;"
     "DROP TABLE dispatchai.applied_offsets;"},
};

#define NMIGRATIONS (sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]))
/* Any constant: serialises concurrent `migrate` runs. */
#define MIGRATE_LOCK_KEY "7306374829184"

int schema_latest_version(void)
{
    return MIGRATIONS[NMIGRATIONS - 1].version;
}

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

void pg_array_element(strbuf_t *b, const char *v)
{
    if (v == NULL) {
        sb_append(b, "NULL", 4);
        return;
    }
    sb_append(b, "\"", 1);
    for (;;) {
        size_t n = strcspn(v, "\"\\");   /* runs without a quote or backslash, a vector scan */
        sb_append(b, v, n);
        if (v[n] == '\0')
            break;
        sb_append(b, "\\", 1);
        sb_append(b, v + n, 1);
        v += n + 1;
    }
    sb_append(b, "\"", 1);
}

static void put_be32(strbuf_t *b, uint32_t x)
{
    unsigned char be[4] = {(unsigned char)(x >> 24), (unsigned char)(x >> 16), (unsigned char)(x >> 8),
                           (unsigned char)x};
    sb_append(b, (const char *)be, 4);
}

void pg_binary_text_array(strbuf_t *b, const char *const *v, int n)
{
    bool nulls = false;
    for (int i = 0; i < n; i++)
        nulls |= v[i] == NULL;
    put_be32(b, 1);                  /* dimensions */
    put_be32(b, nulls);              /* has nulls */
    put_be32(b, 25);                 /* element type: text */
    put_be32(b, (uint32_t)n);        /* length, */
    put_be32(b, 1);                  /* lower bound */
    for (int i = 0; i < n; i++) {
        if (v[i] == NULL) {
            put_be32(b, 0xFFFFFFFFu);   /* -1: NULL */
            continue;
        }
        size_t len = strlen(v[i]);
        put_be32(b, (uint32_t)len);
        sb_append(b, v[i], len);
    }
}

void pg_copy_field(strbuf_t *b, const char *v, int last)
{
    if (v == NULL) {
        sb_append(b, "\\N", 2);
    } else {
        for (;;) {
            size_t run = strcspn(v, "\\\t\n\r");
            sb_append(b, v, run);
            v += run;
            if (*v == '\0')
                break;
            char esc[2] = {'\\', *v == '\\' ? '\\' : *v == '\t' ? 't' : *v == '\n' ? 'n' : 'r'};
            sb_append(b, esc, 2);
            v++;
        }
    }
    sb_append(b, last ? "\n" : "\t", 1);
}

PGresult *pg_copy_in(PGconn *c, const char *sql, const char *data, size_t len)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return r;
    PQclear(r);
    bool sent = true;
    for (size_t off = 0; off < len && sent; off += 1 << 20)
        sent = PQputCopyData(c, data + off, (int)(len - off < (1 << 20) ? len - off : (1 << 20))) == 1;
    PQputCopyEnd(c, sent ? NULL : "the rows could not be sent");
    PGresult *answer = NULL;
    while ((r = PQgetResult(c)) != NULL) {
        if (answer == NULL || (PQresultStatus(answer) == PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COMMAND_OK)) {
            PQclear(answer);
            answer = r;
        } else {
            PQclear(r);
        }
    }
    return answer ? answer : PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
}

PGconn *pg_connect(const char *url, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        const char *m = PQerrorMessage(c);
        snprintf(err, errlen, "database: %.*s", (int)strcspn(m, "\n"), m);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    /* dispatchd's statements are short and many: compiling one with JIT
     * (chosen by cost, so once a batch's arrays are long enough) took a
     * second where running it takes milliseconds. A server without JIT
     * refuses the setting: nothing to turn off then. */
    PQclear(PQexec(c, "SET jit = off"));
    return c;
}

int pg_failed(PGresult *r, const char *what, char *err, size_t errlen)
{
    const char *m = PQresultErrorMessage(r);
    snprintf(err, errlen, "%s: %.*s", what, (int)strcspn(m, "\n"), m);
    PQclear(r);
    return -1;
}

PGconn *pg_keep(PGconn **c, const char *url, char *err, size_t errlen)
{
    if (*c != NULL && PQstatus(*c) != CONNECTION_OK) {
        PQfinish(*c);
        *c = NULL;
    }
    if (*c == NULL)
        *c = pg_connect(url, err, errlen);
    return *c;
}

bool pg_command(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
}

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(r);
        snprintf(err, errlen, "database: %.*s", (int)strcspn(m, "\n"), m);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

int schema_current_version(PGconn *conn, char *err, size_t errlen)
{
    PGresult *r = PQexec(conn, "SELECT to_regclass('dispatchai.schema_migrations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "database: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!exists)
        return 0;
    r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM dispatchai.schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "database: %s", PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    int v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

int schema_migrate(PGconn *conn, char *err, size_t errlen)
{
    if (exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen) != 0)
        return -1;
    int rc = -1;
    if (exec_ok(conn,
                "CREATE SCHEMA IF NOT EXISTS dispatchai;"
                "CREATE TABLE IF NOT EXISTS dispatchai.schema_migrations ("
                "  version integer PRIMARY KEY, name text NOT NULL,"
                "  applied_at timestamptz NOT NULL DEFAULT now())",
                err, errlen) != 0)
        goto out;
    int current = schema_current_version(conn, err, errlen);
    if (current < 0)
        goto out;
    if (current > schema_latest_version()) {
        snprintf(err, errlen, "database schema is at version %d, newer than this dispatchd (%d)", current,
                 schema_latest_version());
        goto out;
    }
    for (size_t i = 0; i < NMIGRATIONS; i++) {
        const migration_t *m = &MIGRATIONS[i];
        if (m->version <= current)
            continue;
        if (exec_ok(conn, "BEGIN", err, errlen) != 0)
            goto out;
        char record[256];
        snprintf(record, sizeof(record),
                 "INSERT INTO dispatchai.schema_migrations (version, name) VALUES (%d, '%s')", m->version,
                 m->name);
        if (exec_ok(conn, m->sql, err, errlen) != 0 || exec_ok(conn, record, err, errlen) != 0) {
            char keep[512];
            snprintf(keep, sizeof(keep), "migration %d (%s): %s", m->version, m->name, err);
            snprintf(err, errlen, "%s", keep);
            PGresult *r = PQexec(conn, "ROLLBACK");
            PQclear(r);
            goto out;
        }
        if (exec_ok(conn, "COMMIT", err, errlen) != 0)
            goto out;
        printf("migrate: applied %d (%s)\n", m->version, m->name);
    }
    printf("migrate: schema at version %d\n", schema_latest_version());
    rc = 0;
out:;
    PGresult *r = PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
    PQclear(r);
    return rc;
}
