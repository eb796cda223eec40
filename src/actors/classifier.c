/*
 * classifier.c -- the classifier actor. This walking skeleton runs the rule
 * classifier in-process (microseconds per issue); the local model and LLM
 * providers plug in behind the same message.
 *
 * [pipeline] hold_ms / hold_jitter_ms make it hold each record on a timer
 * before classifying: a stand-in for a slow model in tests and benchmarks,
 * which costs no thread while it waits. [pipeline] stages = noop finishes
 * each record right there: the consumption machinery alone, for benchmarks.
 * [pipeline] stall_file (tests) holds every record while that file exists:
 * a stalled downstream that can be cleared from outside.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pipeline.h"
#include "local.h"
#include "strmap.h"

typedef struct classifier_state {
    pipeline_t *p;
    int audit_fd;                 /* [pipeline] classify_audit_file, -1 if none */
    strmap_t cancelled;           /* sync ids whose events are skipped */
    model_t *model;               /* the local provider's, NULL for rules */
    model_vec_t scratch;
    uint64_t rng;
    bool stalled;                 /* [pipeline] stall_file exists (tests) */
    record_t **parked;            /* records held while stalled */
    size_t nparked, capparked;
} classifier_state_t;

#define STALL_CHECK_MS 100

static void classify(classifier_state_t *s, record_t *r)
{
    if (s->p->noop) {
        r->result = RESULT_OK;
        record_done(r);
        return;
    }
    if (r->replay) {
        /* Classified before a crash; storage has the result. */
        pipeline_classified(s->p, r);
        return;
    }
    if (r->sync_id[0] && strmap_get(&s->cancelled, r->sync_id) != NULL) {
        /* Its sync was cancelled: costs nothing more. */
        r->result = RESULT_SKIPPED;
        metric_add(&g_metrics.cancelled_skips, 1);
        record_done(r);
        return;
    }
    if (s->audit_fd >= 0)
        dprintf(s->audit_fd, "%d %lld %llu %s\n", r->partition, (long long)r->offset,
                (unsigned long long)(now_us() / 1000), r->sync_id[0] ? r->sync_id : "-");
    uint64_t t0 = now_us();
    /* A comment event is classified from the issue and the comment. */
    cls_input_t in = {r->event.title, r->event.comment_body ? r->event.comment_body : r->event.body,
                      r->event.labels};
    if (s->model != NULL) {
        classify_local(s->model, &s->scratch, &in, &r->cls);
        histogram_observe_us(&g_metrics.classify[PROVIDER_LOCAL], now_us() - t0);
    }
    if (s->p->llm != NULL) {
        /* cascade: the local answer when it is sure enough */
        if (s->model != NULL && r->cls.confidence >= s->p->cfg->cascade_threshold) {
            metric_add(&g_metrics.cascade_local, 1);
        } else {
            if (s->model != NULL)
                metric_add(&g_metrics.cascade_llm, 1);
            r->hdr.type = MSG_LLM_CALL;
            pipeline_tell_llm(s->p, &r->hdr);   /* storage or the DLQ from there */
            return;
        }
    } else if (s->model == NULL) {
        classify_rules(&in, &r->cls);
        histogram_observe_us(&g_metrics.classify[PROVIDER_RULES], now_us() - t0);
    }
    pipeline_classified(s->p, r);
}

static uint64_t hold_ms(classifier_state_t *s)
{
    const config_t *cfg = s->p->cfg;
    if (cfg->hold_jitter_ms <= 0)
        return (uint64_t)cfg->hold_ms;
    s->rng ^= s->rng << 13;   /* xorshift64 */
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (uint64_t)cfg->hold_ms + s->rng % (uint64_t)(cfg->hold_jitter_ms + 1);
}

static void park(classifier_state_t *s, record_t *r)
{
    if (s->nparked == s->capparked) {
        s->capparked = s->capparked ? s->capparked * 2 : 1024;
        s->parked = realloc(s->parked, s->capparked * sizeof(*s->parked));
        if (s->parked == NULL)
            abort();
    }
    s->parked[s->nparked++] = r;
}

/* The stall file is looked at on a timer, never per record. */
static void check_stall(classifier_state_t *s)
{
    s->stalled = access(s->p->cfg->stall_file, F_OK) == 0;
    if (s->stalled)
        return;
    for (size_t i = 0; i < s->nparked; i++)
        classify(s, s->parked[i]);
    s->nparked = 0;
}

static void classifier_handler(rt_actor_t *self, rt_msg_t *msg)
{
    classifier_state_t *s = rt_actor_state(self);
    if (msg->type == RT_MSG_TIMER && ((rt_timer_msg_t *)msg)->arg == &s->stalled) {
        rt_msg_free(msg);
        check_stall(s);
    } else if (msg->type == RT_MSG_TIMER) {
        record_t *r = ((rt_timer_msg_t *)msg)->arg;
        rt_msg_free(msg);
        classify(s, r);
    } else if (msg->type == MSG_CLASSIFY && s->stalled) {
        park(s, (record_t *)msg);
    } else if (msg->type == MSG_CLASSIFY) {
        record_t *r = (record_t *)msg;
        uint64_t hold = hold_ms(s);
        if (hold > 0)
            rt_timer_start(self, hold, 0, r);
        else
            classify(s, r);
    } else if (msg->type == MSG_SYNC_CANCELLED) {
        sync_cancelled_msg_t *c = (sync_cancelled_msg_t *)msg;
        if (strmap_get(&s->cancelled, c->sync_id) == NULL) {
            strmap_put(&s->cancelled, c->sync_id, s);
            log_info("classifier", "sync %s cancelled: its events are skipped from now on", c->sync_id);
        }
        if (s->p->llm != NULL) {
            pipeline_tell_llm(s->p, msg);   /* its waiting records; it answers */
            return;
        }
        if (msg->reply_future != NULL || msg->reply_actor != NULL)
            rt_reply(msg, rt_msg_new(sizeof(rt_msg_t), MSG_SYNC_CANCELLED));
        rt_msg_free(msg);
    } else {
        rt_msg_free(msg);
    }
}

static void classifier_finalize(rt_actor_t *self)
{
    classifier_state_t *s = rt_actor_state(self);
    for (size_t i = 0; i < s->nparked; i++)
        record_free(s->parked[i]);
    free(s->parked);
    if (s->audit_fd >= 0)
        close(s->audit_fd);
    strmap_free(&s->cancelled);
    if (s->model != NULL) {
        model_free(s->model);
        model_vec_free(&s->scratch);
    }
    free(s);
}

rt_actor_t *classifier_spawn(pipeline_t *p, char *err, size_t errlen)
{
    const char *provider = p->cfg->classifier;
    bool cascade = strcmp(provider, "cascade") == 0;
    classifier_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->p = p;
    if (strcmp(provider, "local") == 0 || cascade) {
        if ((s->model = model_load(p->cfg->model_file, err, errlen)) == NULL) {
            free(s);
            return NULL;
        }
        model_vec_init(&s->scratch);
    }
    if (strcmp(provider, "openai") == 0 || cascade)
        p->llm = llm_spawn(p);
    s->rng = 0x9E3779B97F4A7C15ULL;
    s->audit_fd = -1;
    strmap_init(&s->cancelled);
    if (p->cfg->classify_audit_file != NULL) {
        /* O_APPEND, one write per line: survives kill -9 line by line. */
        s->audit_fd = open(p->cfg->classify_audit_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (s->audit_fd < 0)
            log_warn("classifier", "classify_audit_file %s: cannot open", p->cfg->classify_audit_file);
    }
    rt_actor_opts_t o = {.name = "classifier", .capacity = 65536, .high_watermark = 8192,
                         .low_watermark = 2048, .finalizer = classifier_finalize};
    rt_actor_t *a = rt_spawn(p->rt, classifier_handler, s, &o);
    if (p->cfg->stall_file != NULL) {
        s->stalled = access(p->cfg->stall_file, F_OK) == 0;
        rt_timer_start(a, STALL_CHECK_MS, STALL_CHECK_MS, &s->stalled);
    }
    return a;
}
