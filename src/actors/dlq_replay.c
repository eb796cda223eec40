/*
 * dlq_replay.c -- a replay's sends (see dlq_jobs.h): batches of gathered
 * records sent in place to the input topic, up to BATCHES_IN_FLIGHT
 * awaiting Kafka's acknowledgements while reading goes on; what Kafka has
 * is noted as ranges (dlq_replays.h) every NOTE_EVERY and at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlq_jobs_internal.h"
#include "log.h"
#include "publisher.h"
#include "schema.h"

static void on_acked(void *ctx, rd_kafka_resp_err_t err)
{
    struct ref *ref = ctx;
    sent_batch_t *b = ref->b;
    b->ok[ref->i] = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_message_destroy(ref->m);
    if (__atomic_sub_fetch(&b->pending, 1, __ATOMIC_ACQ_REL) == 0) {
        dlq_acked_msg_t *m = rt_msg_new(sizeof(*m), MSG_DLQ_ACKED);
        m->batch = b;
        rt_send_force(b->actor, m);
    }
}

/* m's bytes are sent in place (no copy): ref keeps m until answered. */
static rd_kafka_resp_err_t replay_one(dlq_jobs_state_t *s, const rd_kafka_message_t *m, struct ref *ref)
{
    char buf[128];
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    static const char *const keep[] = {"correlation_id", "sync_id", "user_id"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (kafka_header(m, keep[i], buf, sizeof(buf)) != NULL)
            rd_kafka_header_add(h, keep[i], -1, buf, -1);
    snprintf(buf, sizeof(buf), "%d/%lld", (int)m->partition, (long long)m->offset);
    rd_kafka_header_add(h, "replayed_from", -1, buf, -1);
    external_ack_t *ack = rt_msg_new(sizeof(*ack), MSG_EXTERNAL_ACK);
    ack->done = on_acked;
    ack->ctx = ref;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        s->env->producer, RD_KAFKA_V_TOPIC(s->env->cfg->topic_raw), RD_KAFKA_V_VALUE(m->payload, m->len),
        RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(ack), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h);
        rt_msg_free(ack);
    }
    return e;
}

/* The job stops reading; it ends once every send is answered. */
void dlq_job_fail(dlq_jobs_state_t *s, const char *error)
{
    if (s->failing[0] == '\0')
        snprintf(s->failing, sizeof(s->failing), "%s", error);
    for (int i = 0; i < s->ngather; i++)
        rd_kafka_message_destroy(s->gather[i]);
    s->ngather = 0;
    if (s->nsent == 0)
        dlq_job_finish(s, s->failing);
}

/* The gathered records replayed before are left out, the rest sent (or
 * counted, in a dry run); reading goes on while they are acknowledged. */
void dlq_replay_send(dlq_jobs_state_t *s)
{
    job_t *j = s->running;
    int n = s->ngather;
    sent_batch_t *b = NULL;
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = s->gather[i];
        if (dlq_ranges_contain(s->known, s->nknown, m->partition, m->offset)) {
            j->already++;
        } else if (!j->f.dry_run) {
            if (b == NULL) {
                b = calloc(1, sizeof(*b));
                if (b == NULL)
                    abort();
                b->actor = s->self;
                b->pending = 1;   /* until every send is made */
            }
            struct ref *ref = &b->ref[b->n];
            *ref = (struct ref){b, b->n, m};
            b->part[b->n] = m->partition;
            b->off[b->n] = m->offset;
            __atomic_add_fetch(&b->pending, 1, __ATOMIC_ACQ_REL);
            rd_kafka_resp_err_t e;
            while ((e = replay_one(s, m, ref)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(s->env->producer, 10);   /* the local queue drains within ms */
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                b->n++;
                continue;   /* m goes with its answer */
            }
            __atomic_sub_fetch(&b->pending, 1, __ATOMIC_ACQ_REL);
            j->send_failed++;
        }
        rd_kafka_message_destroy(m);
    }
    s->ngather = 0;
    if (b == NULL)
        return;
    s->sent[s->nsent++] = b;
    if (__atomic_sub_fetch(&b->pending, 1, __ATOMIC_ACQ_REL) == 0) {
        /* answered already (or nothing sent): handled like a last answer */
        dlq_acked_msg_t *a = rt_msg_new(sizeof(*a), MSG_DLQ_ACKED);
        a->batch = b;
        rt_send_force(s->self, a);
    }
}

/* The acknowledged sends not noted yet are noted. 0, or -1 with err. */
static int note_acked(dlq_jobs_state_t *s, char *err, size_t errlen)
{
    int n = dlq_ranges_normalize(s->acked, s->nacked);
    int rc = pg_keep(&s->db, s->env->cfg->database_url, err, errlen) == NULL
                 ? -1
                 : dlq_replays_note(s->db, s->env->cfg->topic_dlq, s->acked, n, s->running->id, err, errlen);
    s->nacked = 0;
    return rc;
}

/* Every send of a batch is answered: the ones Kafka has are counted, and
 * noted every NOTE_EVERY. */
void dlq_replay_acked(dlq_jobs_state_t *s, sent_batch_t *b)
{
    job_t *j = s->running;
    int k = 0;
    while (k < s->nsent && s->sent[k] != b)
        k++;
    memmove(s->sent + k, s->sent + k + 1, (size_t)(s->nsent - k - 1) * sizeof(s->sent[0]));
    s->nsent--;
    if (s->nacked + b->n > s->capacked) {
        s->capacked = (s->nacked + b->n) * 2;
        s->acked = realloc(s->acked, (size_t)s->capacked * sizeof(*s->acked));
        if (s->acked == NULL)
            abort();
    }
    int n = 0;
    for (int i = 0; i < b->n; i++)
        if (b->ok[i]) {
            s->acked[s->nacked++] = (dlq_range_t){b->part[i], b->off[i], b->off[i]};
            n++;
        }
    j->send_failed += b->n - n;
    j->replayed += n;
    metric_add(&g_metrics.dlq_replayed, (uint64_t)n);
    free(b);
    bool last = s->nsent == 0 && (s->failing[0] != '\0' || (s->parts_left == 0 && s->ngather == 0));
    char err[300];
    if ((s->nacked >= NOTE_EVERY || last) && note_acked(s, err, sizeof(err)) != 0) {
        dlq_job_fail(s, err);   /* sent, but not noted: a later replay sends them again */
        return;
    }
    if (s->failing[0] != '\0') {
        if (s->nsent == 0)
            dlq_job_finish(s, s->failing);
        return;
    }
    dlq_read_some(s);
}
