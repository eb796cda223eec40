/*
 * bench_classify_llm.c -- the --llm part of `dispatchd bench classify`
 * (see bench_classify.c): llm-concurrency and rate-limit, measured from
 * dispatchd's own metrics (requests in flight, requests made), so any
 * OpenAI-compatible endpoint will do.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_env.h"
#include "bench_suites.h"
#include "bench_util.h"
#include "cli.h"

enum { IN_FLIGHT = 1000, PROBES = 5 };

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* The endpoint's latency: the median of PROBES requests made one after
 * another, in ms; -1 when one fails. */
static double probe_latency_ms(const config_t *cfg, char *err, size_t errlen)
{
    char url[1024];
    size_t bl = strlen(cfg->openai_base_url);
    snprintf(url, sizeof(url), "%.*s/chat/completions",
             (int)(bl > 0 && cfg->openai_base_url[bl - 1] == '/' ? bl - 1 : bl), cfg->openai_base_url);
    json_t *req = json_pack("{s:s, s:[{s:s, s:s}], s:i}", "model", cfg->openai_model, "messages", "role", "user",
                            "content", "Repository: bench/probe\nTitle: latency probe\nBody: -", "max_tokens", 16);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[600];
    if (cfg->openai_api_key && cfg->openai_api_key[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->openai_api_key);
        h = curl_slist_append(h, auth);
    }
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->llm_timeout_ms);
    double ms[PROBES], result = 0;
    for (int i = 0; i < PROBES && result == 0; i++) {
        double t0 = bench_now_s();
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        ms[i] = (bench_now_s() - t0) * 1000;
        if (rc != CURLE_OK || status != 200) {
            snprintf(err, errlen, "the LLM endpoint %.300s answered %ld (%s)", url, status, curl_easy_strerror(rc));
            result = -1;
        }
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(body);
    return result < 0 ? -1 : bench_median(ms, PROBES);
}

/* The limited run: requests made, sampled each second, until n records are
 * processed; the most made in any 60 s. */
static int busiest_minute(bench_env_t *e, long n, double *busiest, char *err, size_t errlen)
{
    enum { MAX_S = 600 };
    double made[MAX_S + 1];
    int s = 0;
    *busiest = 0;
    for (; s <= MAX_S; s++) {
        const char *const series[] = {"dispatchd_llm_requests_total", "dispatchd_records_processed_total"};
        double v[2] = {-1, 0};
        bench_metrics(e, series, 2, v);
        made[s] = v[0];
        int w = s > 60 ? s - 60 : 0;
        if (made[w] >= 0 && made[s] - made[w] > *busiest)
            *busiest = made[s] - made[w];
        if (v[1] >= (double)n) {
            if (s < 60)
                fprintf(stderr, "# the limited run took %d s, under a minute: its busiest minute is all of it\n", s);
            return 0;
        }
        sleep(1);
    }
    snprintf(err, errlen, "the limited run did not finish %ld records within %d s", n, MAX_S);
    return -1;
}

int bench_classify_llm(bench_ctx_t *ctx, long n, long rate_n)
{
    bench_env_t e;
    char err[512], path[400];
    bool usage;
    if (bench_env_open(&e, ctx->cfg_file, true, &usage, err, sizeof(err)) != 0) {
        cli_error("bench classify: %s", err);
        bench_env_close(&e);
        return usage ? EXIT_USAGE : 1;
    }
    int rc = 1;
    double latency = probe_latency_ms(&e.cfg, err, sizeof(err)), llm_rate, llm_peak, full_rate, full_peak, busiest;
    if (latency < 0)
        goto fail;
    bench_note(&ctx->rep, "the LLM endpoint answers in %.0f ms (median of %d sequential requests)", latency, PROBES);
    const char *sync[] = {"sync", "bench/llm", "--from", path, "--force", NULL};
    if (bench_issues_file(&e, "llm", n, 1, path, sizeof(path)) != 0 || bench_command(&e, sync, NULL, 0) != 0) {
        snprintf(err, sizeof(err), "could not produce the %ld issues (dispatchd sync --from)", n);
        goto fail;
    }
    /* Twice over the same records, in two groups: the LLM stage alone
     * (records finish once classified), then the whole pipeline. */
    const char *llm_env[] = {"CLASSIFIER=openai", "CLASSIFY_RATE_LIMIT=100000000", "DAILY_CLASSIFICATION_LIMIT=1000000000",
                             "DISPATCHD_LLM_MAX_INFLIGHT=1000", "DISPATCHD_MAX_INFLIGHT=1000", "DISPATCHD_STAGES=classify",
                             NULL};
    if (bench_worker_start(&e, NULL, "classify", llm_env, err, sizeof(err)) != 0 ||
        bench_processed_rate(&e, n, 900, "dispatchd_llm_inflight_requests", &llm_rate, &llm_peak, err, sizeof(err)) != 0)
        goto fail;
    bench_worker_stop(&e, false);
    llm_env[5] = "DISPATCHD_STAGES=full";
    if (bench_worker_start(&e, NULL, "full", llm_env, err, sizeof(err)) != 0 ||
        bench_processed_rate(&e, n, 900, "dispatchd_llm_inflight_requests", &full_rate, &full_peak, err, sizeof(err)) != 0)
        goto fail;
    bench_worker_stop(&e, false);
    double ideal = IN_FLIGHT / (latency / 1000);
    bench_emit(&ctx->rep, "llm-concurrency",
               "ideal_per_s=%.0f achieved_per_s=%.0f ratio=%.3f in_flight_limit=%d peak_in_flight=%.0f latency_ms=%.0f "
               "records=%ld full_pipeline_per_s=%.0f full_pipeline_ratio=%.3f",
               ideal, llm_rate, llm_rate / ideal, IN_FLIGHT, llm_peak, latency, n, full_rate, full_rate / ideal);

    /* The group that read the first records goes on with these. */
    const char *limit_sync[] = {"sync", "bench/limit", "--from", path, "--force", NULL};
    if (bench_issues_file(&e, "limit", rate_n, 1000000, path, sizeof(path)) != 0 ||
        bench_command(&e, limit_sync, NULL, 0) != 0) {
        snprintf(err, sizeof(err), "could not produce the %ld limited issues", rate_n);
        goto fail;
    }
    llm_env[1] = "CLASSIFY_RATE_LIMIT=3000";
    if (bench_worker_start(&e, NULL, "full", llm_env, err, sizeof(err)) != 0 ||
        busiest_minute(&e, rate_n, &busiest, err, sizeof(err)) != 0)
        goto fail;
    bench_worker_stop(&e, false);
    bench_emit(&ctx->rep, "rate-limit",
               "limit_per_s=50 achieved_per_s=%.2f ratio=%.3f over_limit=%.0f busiest_minute=%.0f records=%ld "
               "latency_ms=%.0f",
               busiest / 60, busiest / 3000, busiest > 3000 ? busiest - 3000 : 0, busiest, rate_n, latency);
    rc = 0;
fail:
    if (rc != 0)
        cli_error("bench classify: %s", err);
    bench_env_close(&e);
    return rc;
}
