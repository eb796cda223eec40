/* /ws messages: encoded once and shared (one allocation however many
 * connections), seq counted per connection, a bounded queue that refuses
 * instead of growing, and every reference given back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "ws_outbox.h"

/* The oldest message written and given back, as a socket does. */
static void drop_head(ws_outbox_t *o)
{
    char head[WS_FRAME_HEAD_MAX];
    ws_msg_t *m;
    if (ws_outbox_take(o, head, &m) > 0)
        ws_msg_unref(m);
}

static void test_shared_message_per_connection_seq(void **state)
{
    (void)state;
    ws_outbox_t a, b;
    ws_outbox_init(&a, 1 << 20);
    ws_outbox_init(&b, 1 << 20);
    ws_msg_t *m1 = ws_msg_new("issue_update", "2026-11-26T07:00:00Z", "{\"repository\":\"acme/api\",\"number\":7}");
    ws_msg_t *m2 = ws_msg_new("sync_progress", "2026-11-26T07:00:01Z", "{\"synced\":10}");
    assert_true(ws_outbox_push(&a, m1));
    assert_true(ws_outbox_push(&a, m2));
    assert_true(ws_outbox_push(&b, m2));   /* b joined later: its first message is seq 1 */
    assert_int_equal(m2->refs, 3);         /* the maker's and two queues': one copy of the bytes */
    ws_msg_unref(m1);
    ws_msg_unref(m2);

    char buf[256];
    size_t n = ws_outbox_peek(&a, buf, sizeof(buf));
    json_t *j = json_loadb(buf, n, 0, NULL);
    assert_non_null(j);   /* a whole JSON object */
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "issue_update");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "data"), "repository")), "acme/api");
    json_decref(j);
    drop_head(&a);
    n = ws_outbox_peek(&a, buf, sizeof(buf));
    j = json_loadb(buf, n, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "sync_progress");
    json_decref(j);
    n = ws_outbox_peek(&b, buf, sizeof(buf));
    j = json_loadb(buf, n, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 1);
    json_decref(j);
    drop_head(&a);
    assert_int_equal(ws_outbox_len(&a), 0);
    assert_int_equal(a.bytes, 0);
    assert_int_equal(ws_outbox_peek(&a, buf, sizeof(buf)), 0);
    ws_outbox_free(&a);
    ws_outbox_free(&b);   /* gives m2's last reference back (ASan: no leak) */
}

static void test_bound_refuses_instead_of_growing(void **state)
{
    (void)state;
    ws_outbox_t o;
    ws_outbox_init(&o, 4096);
    char data[600];
    memset(data, 'x', sizeof(data));
    data[0] = '"';
    data[sizeof(data) - 2] = '"';
    data[sizeof(data) - 1] = '\0';
    char obj[700];
    snprintf(obj, sizeof(obj), "{\"t\":%s}", data);
    int queued = 0;
    for (int i = 0; i < 100; i++) {
        ws_msg_t *m = ws_msg_new("issue_update", "2026-11-26T07:00:00Z", obj);
        bool ok = ws_outbox_push(&o, m);
        ws_msg_unref(m);
        if (!ok)
            break;
        queued++;
    }
    assert_true(queued >= 5 && queued <= 6);   /* ~680 bytes a frame, 4 KiB bound */
    assert_true(o.bytes <= 4096);
    /* draining makes room again, and seq goes on without a gap */
    drop_head(&o);
    ws_msg_t *m = ws_msg_new("issue_update", "2026-11-26T07:00:00Z", obj);
    assert_true(ws_outbox_push(&o, m));
    ws_msg_unref(m);
    assert_int_equal(o.head_seq + ws_outbox_len(&o), (uint64_t)queued + 2);   /* the next seq */
    char small[8];
    assert_true(ws_outbox_peek(&o, small, sizeof(small)) > sizeof(small));   /* the size it needs */
    ws_outbox_free(&o);
}

/* What a socket writes for a message: an RFC 6455 server frame (FIN,
 * text, unmasked, 7/16/64-bit lengths) whose payload is the message's full
 * text -- its head made per socket, its text the shared bytes -- and the
 * message leaves the queue with the reference the writer gives back. */
static void check_frame(const char *head, size_t hl, const ws_msg_t *m, const char *whole, size_t len)
{
    const unsigned char *p = (const unsigned char *)head;
    assert_int_equal(p[0], 0x81);
    assert_int_equal(p[1] & 0x80, 0);   /* a server never masks */
    size_t hdr = 2, got = p[1] & 0x7f;
    if (got == 126) {
        got = (size_t)p[2] << 8 | p[3];
        hdr = 4;
    } else if (got == 127) {
        got = 0;
        for (int i = 0; i < 8; i++)
            got = got << 8 | p[2 + i];
        hdr = 10;
    }
    assert_int_equal(got, len);
    assert_int_equal(hl - hdr + m->len, len);
    assert_memory_equal(head + hdr, whole, hl - hdr);               /* the seq prefix */
    assert_memory_equal(m->tail, whole + (hl - hdr), m->len);      /* then the shared text */
}

static void test_frames(void **state)
{
    (void)state;
    ws_outbox_t o;
    ws_outbox_init(&o, 1 << 22);
    static char big[70000], mid[300];
    memset(big, 'b', sizeof(big) - 3);
    memcpy(big, "{\"t\":\"", 6);
    memcpy(big + sizeof(big) - 4, "\"}", 3);
    memset(mid, 'm', sizeof(mid) - 3);
    memcpy(mid, "{\"t\":\"", 6);
    memcpy(mid + sizeof(mid) - 4, "\"}", 3);
    ws_msg_t *m[3] = {ws_msg_new("issue_update", "2026-11-26T07:00:00.000Z", "{}"),
                      ws_msg_new("sync_progress", "2026-11-26T07:00:00.000Z", mid),
                      ws_msg_new("sync_cancelled", "2026-11-26T07:00:00.000Z", big)};
    static char whole[3][80000];
    size_t len[3];
    for (int i = 0; i < 3; i++) {
        assert_true(ws_outbox_push(&o, m[i]));
        len[i] = ws_outbox_peek(&o, whole[i], sizeof(whole[i]));
        char head[WS_FRAME_HEAD_MAX];
        ws_msg_t *taken;
        size_t hl = ws_outbox_take(&o, head, &taken);
        assert_ptr_equal(taken, m[i]);
        assert_int_equal(taken->refs, 2);   /* the writer's now, and the maker's */
        check_frame(head, hl, taken, whole[i], len[i]);
        ws_msg_unref(taken);                /* written */
        ws_msg_unref(m[i]);
    }
    assert_true(len[0] < 126 && len[1] >= 126 && len[1] < 65536 && len[2] >= 65536);   /* all three lengths */
    assert_memory_equal(whole[2], "{\"seq\":3,\"type\":\"sync_cancelled\"", 32);
    assert_int_equal(o.bytes, 0);
    char head[WS_FRAME_HEAD_MAX];
    ws_msg_t *none;
    assert_int_equal(ws_outbox_take(&o, head, &none), 0);   /* empty */
    ws_outbox_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_message_per_connection_seq),
        cmocka_unit_test(test_bound_refuses_instead_of_growing),
        cmocka_unit_test(test_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
