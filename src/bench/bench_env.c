/* bench_env.c -- see bench_env.h. */
#include "bench_env.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "issue_gen.h"
#include "kafka.h"
#include "log.h"
#include "schema.h"
#include "strbuf.h"

extern char **environ;

/* A suite that gives up with exit() still leaves nothing behind. */
static bench_env_t *g_open;

static void close_at_exit(void)
{
    if (g_open != NULL)
        bench_env_close(g_open);
}

static const char *const ROLES[] = {"raw", "enriched", "dlq", "control", "retry"};

/* A libpq key=value string for the same server as c, database dbname. */
static char *conninfo_for(PGconn *c, const char *dbname)
{
    PQconninfoOption *opts = PQconninfo(c);
    strbuf_t b;
    sb_init(&b);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0' || strcmp(o->keyword, "dbname") == 0)
            continue;
        sb_printf(&b, "%s='", o->keyword);
        for (const char *p = o->val; *p; p++) {
            if (*p == '\'' || *p == '\\')
                sb_append(&b, "\\", 1);
            sb_append(&b, p, 1);
        }
        sb_puts(&b, "' ");
    }
    sb_printf(&b, "dbname='%s'", dbname);
    PQconninfoFree(opts);
    return b.data;
}

static int exec_sql(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, errlen, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

static int write_conf(bench_env_t *e, const char *cfg_file, char *err, size_t errlen)
{
    FILE *out = fopen(e->conf_path, "w");
    if (out == NULL) {
        snprintf(err, errlen, "%s: %s", e->conf_path, strerror(errno));
        return -1;
    }
    if (cfg_file != NULL) {   /* the user's settings (security, classifier, ...), then the namespace's */
        FILE *in = fopen(cfg_file, "r");
        char buf[8192];
        size_t n;
        while (in && (n = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, n, out);
        if (in)
            fclose(in);
    }
    fprintf(out, "\n[topics]\n");
    for (size_t i = 0; i < sizeof(ROLES) / sizeof(ROLES[0]); i++)
        fprintf(out, "%s = %s.%s\n", ROLES[i], e->tag, ROLES[i]);
    fprintf(out, "allowed = ");
    for (size_t i = 0; i < sizeof(ROLES) / sizeof(ROLES[0]); i++)
        fprintf(out, "%s%s.%s", i ? "," : "", e->tag, ROLES[i]);
    fprintf(out, "\n");
    return fclose(out) == 0 ? 0 : -1;
}

int bench_env_open(bench_env_t *e, const char *cfg_file, bool with_kafka, bool *usage, char *err, size_t errlen)
{
    memset(e, 0, sizeof(*e));
    *usage = false;
    static bool registered;
    if (!registered)
        atexit(close_at_exit);
    registered = true;
    g_open = e;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(e->tag, sizeof(e->tag), "bench%d_%ld", (int)getpid(), (long)(tv.tv_usec / 1000 + tv.tv_sec % 100000 * 1000));
    snprintf(e->work, sizeof(e->work), "%s/dispatchd-%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", e->tag);
    if (mkdtemp(e->work) == NULL) {
        snprintf(err, errlen, "temporary directory: %s", strerror(errno));
        e->work[0] = '\0';
        return -1;
    }
    snprintf(e->conf_path, sizeof(e->conf_path), "%s/bench.conf", e->work);
    if (config_load(&e->cfg, cfg_file, err, errlen) != 0) {
        *usage = true;
        return -1;
    }
    log_set_level((enum log_level)log_parse_level(e->cfg.log_level));
    if (with_kafka && strcmp(e->cfg.kafka_bootstrap, "embedded") == 0) {
        snprintf(err, errlen, "the suites run on a real broker: set [kafka] bootstrap.servers (not `embedded`)");
        *usage = true;
        return -1;
    }
    e->admin_url = strdup(e->cfg.database_url);
    PGconn *c = pg_connect(e->admin_url, err, errlen);
    if (c == NULL)
        return -1;
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", e->tag);
    int rc = exec_sql(c, sql, err, errlen);
    if (rc == 0) {
        e->made_db = true;
        fprintf(stderr, "# scratch namespace %s: a database%s of that name, removed at the end\n", e->tag,
                with_kafka ? " and topics" : "");
        e->db_url = conninfo_for(c, e->tag);
    }
    PQfinish(c);
    if (rc != 0 || write_conf(e, cfg_file, err, errlen) != 0)
        return -1;
    /* The environment wins over files: the namespace's settings go there,
     * for this process and every worker and command it starts. */
    char state[300];
    snprintf(state, sizeof(state), "%s/state", e->work);
    setenv("DATABASE_URL", e->db_url, 1);
    setenv("DISPATCHD_HTTP_ADDR", "127.0.0.1:0", 1);
    setenv("DISPATCHD_STATE_DIR", state, 1);
    config_free(&e->cfg);
    if (config_load(&e->cfg, e->conf_path, err, errlen) != 0) {
        *usage = true;
        return -1;
    }
    /* As `dispatchd migrate` does it, its report kept off this one's output. */
    char out[4096];
    const char *migrate[] = {"migrate", NULL};
    if ((rc = bench_command(e, migrate, out, sizeof(out))) != 0)
        snprintf(err, errlen, "migrate of the scratch database exited %d", rc);
    if (rc != 0 || !with_kafka)
        return rc;
    e->made_topics = true;
    const char *topics[] = {"topics", "ensure", NULL};
    if ((rc = bench_command(e, topics, out, sizeof(out))) != 0)
        snprintf(err, errlen, "topics ensure for the scratch topics exited %d", rc);
    return rc == 0 ? 0 : -1;
}

static void delete_topics(bench_env_t *e)
{
    char err[256];
    kafka_env_t kenv;
    if (kafka_env_open(&kenv, &e->cfg, false, err, sizeof(err)) != 0)
        return;
    rd_kafka_conf_t *conf = kafka_conf(&e->cfg, &kenv, KAFKA_ADMIN, err, sizeof(err));
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)) : NULL;
    if (rk != NULL) {
        rd_kafka_DeleteTopic_t *del[5];
        const char *names[5] = {e->cfg.topic_raw, e->cfg.topic_enriched, e->cfg.topic_dlq, e->cfg.topic_control,
                                e->cfg.topic_retry};
        for (int i = 0; i < 5; i++)
            del[i] = rd_kafka_DeleteTopic_new(names[i]);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_DeleteTopics(rk, del, 5, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_DeleteTopic_destroy_array(del, 5);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
    }
    kafka_env_close(&kenv);
}

void bench_env_close(bench_env_t *e)
{
    g_open = NULL;
    if (e->pid > 0)
        bench_worker_stop(e, true);
    if (e->made_topics)
        delete_topics(e);
    if (e->made_db) {
        char err[256], sql[128];
        PGconn *c = pg_connect(e->admin_url, err, sizeof(err));
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", e->tag);
        if (c == NULL || exec_sql(c, sql, err, sizeof(err)) != 0)
            log_warn("bench: the scratch database %s was not dropped: %s", e->tag, err);
        if (c)
            PQfinish(c);
    }
    if (e->work[0]) {
        char *argv[] = {"/bin/rm", "-rf", e->work, NULL};
        char out[16];
        bench_capture(argv, out, sizeof(out), NULL);
    }
    free(e->db_url);
    free(e->admin_url);
    if (e->cfg.kafka_bootstrap)   /* loaded */
        config_free(&e->cfg);
    memset(e, 0, sizeof(*e));
}

/* environ with ENV's keys replaced, then ENV. */
static char **env_with(const char *const *env)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (env && env[m])
        m++;
    char **out = calloc(n + m + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < m && !replaced; j++) {
            size_t kl = strcspn(env[j], "=");
            replaced = strncmp(environ[i], env[j], kl) == 0 && environ[i][kl] == '=';
        }
        if (!replaced)
            out[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        out[k++] = (char *)env[j];
    return out;
}

/* A port the kernel has just handed out on 127.0.0.1 (free again when
 * the worker binds it a moment later). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* The last line or so of a worker's log, for an error message. */
static const char *log_tail(const char *path)
{
    static char tail[400];
    FILE *f = fopen(path, "r");
    tail[0] = '\0';
    if (f != NULL) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size > (long)sizeof(tail) - 1 ? size - (long)sizeof(tail) + 1 : 0, SEEK_SET);
        size_t n = fread(tail, 1, sizeof(tail) - 1, f);
        tail[n] = '\0';
        while (n > 0 && tail[n - 1] == '\n')
            tail[--n] = '\0';
        fclose(f);
    }
    return tail[0] ? tail : "(its log is empty)";
}

int bench_worker_start(bench_env_t *e, const char *program, const char *name, const char *const *env, char *err,
                       size_t errlen)
{
    char group[128], logpath[400];
    snprintf(group, sizeof(group), "DISPATCHD_GROUP_ID=%s-%s", e->tag, name);
    snprintf(logpath, sizeof(logpath), "%s/%s.log", e->work, name);
    const char *all[32] = {group};
    size_t n = 1;
    while (env && env[n - 1] && n < 30) {
        all[n] = env[n - 1];
        n++;
    }
    if ((e->port = free_port()) < 0) {
        snprintf(err, errlen, "no free port on 127.0.0.1: %s", strerror(errno));
        return -1;
    }
    char addr[64];
    snprintf(addr, sizeof(addr), "DISPATCHD_HTTP_ADDR=127.0.0.1:%d", e->port);
    snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->port);
    all[n++] = addr;
    all[n] = NULL;
    char **envp = env_with(all);
    const char *exe = program ? program : bench_self_exe();
    char *argv[] = {(char *)exe, "run", "--config", e->conf_path, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&e->pid, exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    if (rc != 0) {
        snprintf(err, errlen, "%s run: %s", exe, strerror(rc));
        e->pid = 0;
        return -1;
    }
    /* Up once its control plane answers. */
    for (int i = 0; i < 600; i++) {
        int st;
        if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
            snprintf(err, errlen, "the worker %s exited at start: %s", name, log_tail(logpath));
            e->pid = 0;
            return -1;
        }
        if (bench_metric(e, "dispatchd_up") >= 0)
            return 0;
        usleep(100000);
    }
    snprintf(err, errlen, "the worker %s did not answer on %s within 60 s: %s", name, e->url, log_tail(logpath));
    return -1;
}

int bench_worker_stop(bench_env_t *e, bool kill_it)
{
    if (e->pid <= 0)
        return -1;
    kill(e->pid, kill_it ? SIGKILL : SIGTERM);
    int st = 0;
    while (waitpid(e->pid, &st, 0) < 0 && errno == EINTR)
        ;
    e->pid = 0;
    e->port = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

double bench_metric(const bench_env_t *e, const char *series)
{
    const char *const one[] = {series};
    double v;
    return bench_metrics(e, one, 1, &v) == 0 ? v : -1;
}

int bench_metrics(const bench_env_t *e, const char *const *series, int n, double *out)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/metrics", e->url);
    strbuf_t page;
    sb_init(&page);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_to_sb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &page);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    for (int i = 0; rc == CURLE_OK && i < n; i++) {
        double v = bench_metrics_sum(page.data ? page.data : "", series[i]);
        out[i] = v < 0 ? 0 : v;   /* a family not yet written: nothing counted */
    }
    sb_free(&page);
    return rc == CURLE_OK ? 0 : -1;
}

int bench_command(bench_env_t *e, const char *const *args, char *out, size_t outlen)
{
    const char *argv[24] = {bench_self_exe()};
    int n = 1;
    for (; args[n - 1] && n < 21; n++)
        argv[n] = args[n - 1];
    argv[n++] = "--config";
    argv[n++] = e->conf_path;
    argv[n] = NULL;
    char buf[256], errpath[320];
    snprintf(errpath, sizeof(errpath), "%s/commands.log", e->work);
    int rc = bench_capture((char *const *)argv, out ? out : buf, out ? outlen : sizeof(buf), errpath);
    if (rc != 0)
        fprintf(stderr, "dispatchd %s exited %d: %s\n", args[0], rc, log_tail(errpath));
    return rc;
}

int bench_processed_rate(const bench_env_t *e, long count, double timeout_s, const char *peak_of, double *rate,
                         double *peak, char *err, size_t errlen)
{
    const char *const series[] = {"dispatchd_records_processed_total", peak_of};
    double deadline = bench_now_s() + timeout_s, first = 0, first_n = 0, n = 0, v[2];
    if (peak)
        *peak = 0;
    while (bench_now_s() < deadline) {
        if (bench_metrics(e, series, peak_of ? 2 : 1, v) == 0) {
            n = v[0];
            if (peak_of && peak && v[1] > *peak)
                *peak = v[1];
        }
        double now = bench_now_s();
        if (n > 0 && first == 0)
            first = now, first_n = n;
        if (n >= (double)count) {
            *rate = now > first ? (n - first_n) / (now - first) : 0;
            return 0;
        }
        usleep(20000);
    }
    snprintf(err, errlen, "%.0f of %ld records processed within %.0f s", n, count, timeout_s);
    return -1;
}

int bench_issues_file(const bench_env_t *e, const char *name, long n, long first, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s.jsonl", e->work, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    uint64_t rng = 0x155e5 + (uint64_t)first;
    for (long i = 0; i < n; i++) {
        json_t *issue = issue_gen(&rng, 700000000LL + first + i, first + i, 0);
        json_dumpf(issue, f, JSON_COMPACT);
        fputc('\n', f);
        json_decref(issue);
    }
    return fclose(f) == 0 ? 0 : -1;
}

int bench_env_conf(bench_env_t *e, const char *const *lines)
{
    FILE *f = fopen(e->conf_path, "a");
    if (f == NULL)
        return -1;
    for (size_t i = 0; lines[i] != NULL; i++)
        fprintf(f, "%s\n", lines[i]);
    return fclose(f) == 0 ? 0 : -1;
}
