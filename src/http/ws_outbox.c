/*
 * ws_outbox.c -- see ws_outbox.h.
 */
#include "ws_outbox.h"

#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "strbuf.h"

#define SEQ_PREFIX_MAX 32         /* {"seq":18446744073709551615, */

ws_msg_t *ws_msg_new(const char *type, const char *timestamp, const char *data_json)
{
    strbuf_t b;
    sb_init(&b);
    /* type and timestamp are ours (constants, ISO 8601): no escaping needed */
    sb_printf(&b, "\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":%s}", type, timestamp, data_json);
    ws_msg_t *m = malloc(sizeof(*m) + b.len + 1);
    if (m == NULL)
        abort();
    m->refs = 1;
    m->type = type;
    m->kind = (int)ws_type_of(type);
    m->len = b.len;
    memcpy(m->tail, b.data, b.len + 1);
    sb_free(&b);
    return m;
}

void ws_msg_ref(ws_msg_t *m)
{
    __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
}

void ws_msg_unref(ws_msg_t *m)
{
    if (m != NULL && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(m);
}

void ws_outbox_init(ws_outbox_t *o, size_t bound)
{
    memset(o, 0, sizeof(*o));
    o->bound = bound;
    o->head_seq = 1;
}

void ws_outbox_free(ws_outbox_t *o)
{
    ws_msg_t *m;
    while ((m = ring_pop(&o->queue)) != NULL)
        ws_msg_unref(m);
    ring_free(&o->queue);
    o->bytes = 0;
}

static size_t frame_bytes(const ws_msg_t *m)
{
    return m->len + SEQ_PREFIX_MAX;
}

bool ws_outbox_push(ws_outbox_t *o, ws_msg_t *m)
{
    size_t add = frame_bytes(m);
    if (o->bytes + add > o->bound)
        return false;
    ws_msg_ref(m);
    ring_push(&o->queue, m);
    o->bytes += add;
    return true;
}

/* "{\"seq\":N," without printf: this runs once per message per socket. */
static size_t seq_prefix(uint64_t seq, char *out)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq > 0);
    memcpy(out, "{\"seq\":", 7);
    for (size_t i = 0; i < n; i++)
        out[7 + i] = digits[n - 1 - i];
    out[7 + n] = ',';
    return 8 + n;
}

size_t ws_outbox_peek(const ws_outbox_t *o, char *buf, size_t cap)
{
    if (ring_len(&o->queue) == 0)
        return 0;
    const ws_msg_t *m = ring_at(&o->queue, 0);
    char prefix[SEQ_PREFIX_MAX];
    size_t plen = seq_prefix(o->head_seq, prefix);
    size_t need = plen + m->len;
    if (need > cap)
        return need;
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, m->tail, m->len);
    return need;
}

size_t ws_outbox_take(ws_outbox_t *o, char *head, ws_msg_t **m)
{
    *m = ring_pop(&o->queue);
    if (*m == NULL)
        return 0;
    char prefix[SEQ_PREFIX_MAX];
    size_t plen = seq_prefix(o->head_seq, prefix);
    uint64_t len = plen + (*m)->len;
    unsigned char *h = (unsigned char *)head;
    size_t hlen;
    h[0] = 0x81;   /* FIN, text */
    if (len < 126) {
        h[1] = (unsigned char)len;
        hlen = 2;
    } else if (len < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hlen = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        hlen = 10;
    }
    memcpy(head + hlen, prefix, plen);
    o->bytes -= frame_bytes(*m);
    o->head_seq++;
    return hlen + plen;
}
