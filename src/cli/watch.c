/*
 * watch.c -- `dispatchd watch`: connects to a control plane's GET /ws and
 * prints what it sends, one line per message, until the server closes the
 * socket or the user presses Ctrl-C. The WebSocket framing is wslay's (a
 * client context: frames are masked); the HTTP/1.1 upgrade is written and
 * checked here.
 */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "cli.h"
#include "strbuf.h"

static const char *USAGE =
    "usage: dispatchd watch [--repo OWNER/REPO]... [--json] [--url http://HOST:PORT] [--token T]\n"
    "                       [--config FILE]\n"
    "Prints the live updates of GET /ws, one line per message (the message itself with --json).\n"
    "The token is --token, else $DISPATCHD_TOKEN (a user JWT), else the admin token of the\n"
    "configuration; the server is --url, else the configuration's [http] addr.\n";

typedef struct watch {
    int fd;
    bool json;
    int close_code;
    char close_reason[128];
} watch_t;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    watch_t *w = user;
    ssize_t n = recv(w->fd, buf, len, MSG_DONTWAIT);
    if (n > 0)
        return n;
    wslay_event_set_error(ctx, n < 0 && (errno == EAGAIN || errno == EINTR) ? WSLAY_ERR_WOULDBLOCK
                                                                             : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
    (void)flags;
    watch_t *w = user;
    ssize_t n = send(w->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0)
        return n;
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EINTR ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    (void)user;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* One line a message: time, type, and what it is about. */
static void print_line(const char *text, size_t len)
{
    json_t *m = json_loadb(text, len, 0, NULL);
    json_t *d = json_object_get(m, "data");
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *ts = json_string_value(json_object_get(m, "timestamp"));
    const char *repo = json_string_value(json_object_get(d, "repository"));
    if (type == NULL || repo == NULL) {
        printf("%.*s\n", (int)len, text);
    } else if (strncmp(type, "sync_", 5) == 0) {
        printf("%s %-21s %s sync %.8s %s %lld/%lld\n", ts ? ts : "-", type, repo,
               json_string_value(json_object_get(d, "sync_id")) ?: "-",
               json_string_value(json_object_get(d, "status")) ?: "-",
               (long long)json_integer_value(json_object_get(d, "issues_synced")),
               (long long)json_integer_value(json_object_get(d, "issues_total")));
    } else {
        printf("%s %-21s %s#%lld %s/%s %.2f %s\n", ts ? ts : "-", type, repo,
               (long long)json_integer_value(json_object_get(d, "issue_number")),
               json_string_value(json_object_get(d, "category")) ?: "-",
               json_string_value(json_object_get(d, "priority")) ?: "-",
               json_number_value(json_object_get(d, "confidence")),
               json_string_value(json_object_get(d, "title")) ?: "");
    }
    json_decref(m);
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
    (void)ctx;
    watch_t *w = user;
    if (arg->opcode == WSLAY_TEXT_FRAME) {
        if (w->json)
            printf("%.*s\n", (int)arg->msg_length, (const char *)arg->msg);
        else
            print_line((const char *)arg->msg, arg->msg_length);
        fflush(stdout);
    } else if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        w->close_code = arg->status_code;
        size_t rl = arg->msg_length > 2 ? arg->msg_length - 2 : 0;
        snprintf(w->close_reason, sizeof(w->close_reason), "%.*s", (int)rl, (const char *)arg->msg + 2);
    }
}

static int dial(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* Writes the upgrade request, reads the answer; 0 when it is a 101 with the
 * accept key the key asks for. A refusal prints the server's JSON error. */
static int handshake(int fd, const char *hostport, const char *target)
{
    uint8_t raw[16], sha[SHA_DIGEST_LENGTH];
    char key[32], expect[32], src[64 + 36];
    RAND_bytes(raw, sizeof(raw));
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
    snprintf(src, sizeof(src), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    SHA1((const unsigned char *)src, strlen(src), sha);
    EVP_EncodeBlock((unsigned char *)expect, sha, sizeof(sha));
    strbuf_t req;
    sb_init(&req);
    sb_printf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", target, hostport, key);
    bool sent = send(fd, req.data, req.len, MSG_NOSIGNAL) == (ssize_t)req.len;
    sb_free(&req);
    char head[8192];
    size_t got = 0;
    char *end = NULL;
    while (sent && end == NULL && got + 1 < sizeof(head)) {
        ssize_t n = recv(fd, head + got, sizeof(head) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        head[got] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (end == NULL) {
        cli_error("watch: no answer to the upgrade from %s", hostport);
        return -1;
    }
    int status = 0;
    sscanf(head, "HTTP/1.1 %d", &status);
    if (status != 101) {
        cli_error("watch: the server refused the connection (%d): %s", status, end + 4);
        return -1;
    }
    *end = '\0';
    char *accept = strcasestr(head, "\r\nsec-websocket-accept:");
    if (accept == NULL || strstr(accept + 23, expect) == NULL) {
        cli_error("watch: the server's Sec-WebSocket-Accept does not match");
        return -1;
    }
    if (got > (size_t)(end + 4 - head)) {
        cli_error("watch: the server sent frames before the handshake was read");
        return -1;
    }
    return 0;
}

int cmd_watch(int argc, char **argv)
{
    const char *url = NULL, *token = getenv("DISPATCHD_TOKEN"), *cfg_file = NULL;
    bool json = false;
    strbuf_t repos;
    sb_init(&repos);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", USAGE);
            sb_free(&repos);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc && strchr(argv[i + 1], '/') != NULL &&
                   strcspn(argv[i + 1], "&?# ") == strlen(argv[i + 1])) {
            sb_printf(&repos, "&repo=%s", argv[++i]);
        } else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
            token = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            cfg_file = argv[++i];
        } else {
            cli_error("watch: unknown or incomplete option '%s'\n%s", argv[i], USAGE);
            sb_free(&repos);
            return EXIT_USAGE;
        }
    }
    config_t cfg;
    char err[512];
    if (config_load(&cfg, cfg_file, err, sizeof(err)) != 0) {
        cli_error("%s", err);
        sb_free(&repos);
        return EXIT_USAGE;
    }
    if (token == NULL || token[0] == '\0')
        token = cfg.admin_token;
    char hostport[256];
    if (url != NULL && strncmp(url, "http://", 7) == 0)
        snprintf(hostport, sizeof(hostport), "%.*s", (int)strcspn(url + 7, "/"), url + 7);
    else if (url == NULL)
        snprintf(hostport, sizeof(hostport), "%s", cfg.http_addr);
    else
        hostport[0] = '\0';
    char *colon = strrchr(hostport, ':');
    int rc = EXIT_USAGE;
    if (hostport[0] == '\0' || colon == NULL) {
        cli_error("watch: --url must be http://HOST:PORT");
        goto out;
    }
    if (token == NULL || token[0] == '\0') {
        cli_error("watch: no token: --token, DISPATCHD_TOKEN or DISPATCHD_ADMIN_TOKEN");
        goto out;
    }
    rc = 1;
    *colon = '\0';
    int fd = dial(hostport, colon + 1);
    *colon = ':';
    if (fd < 0) {
        cli_error("watch: cannot connect to %s", hostport);
        goto out;
    }
    strbuf_t target;
    sb_init(&target);
    sb_printf(&target, "/ws?token=%s%s", token, repos.len ? repos.data : "");
    int hs = handshake(fd, hostport, target.data);
    sb_free(&target);
    if (hs != 0) {
        close(fd);
        goto out;
    }
    watch_t w = {.fd = fd, .json = json};
    struct wslay_event_callbacks cbs = {.recv_callback = recv_cb, .send_callback = send_cb,
                                        .genmask_callback = genmask_cb, .on_msg_recv_callback = on_msg};
    wslay_event_context_ptr ctx;
    wslay_event_context_client_init(&ctx, &cbs, &w);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    bool asked_close = false;
    while (wslay_event_want_read(ctx) || wslay_event_want_write(ctx)) {
        if (interrupted && !asked_close) {
            wslay_event_queue_close(ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
            asked_close = true;
        }
        struct pollfd p = {.fd = fd, .events = (short)((wslay_event_want_read(ctx) ? POLLIN : 0) |
                                                       (wslay_event_want_write(ctx) ? POLLOUT : 0))};
        int n = poll(&p, 1, 200);
        if (n < 0 && errno != EINTR)
            break;
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(ctx) != 0)
            break;
        if ((p.revents & POLLOUT) && wslay_event_send(ctx) != 0)
            break;
    }
    wslay_event_context_free(ctx);
    close(fd);
    if (asked_close)
        ;   /* the user's own Ctrl-C: nothing to report */
    else if (w.close_code != 0)
        fprintf(stderr, "watch: closed by the server: %d %s\n", w.close_code, w.close_reason);
    else if (!asked_close)
        fprintf(stderr, "watch: the connection was lost\n");
    rc = asked_close || w.close_code == WSLAY_CODE_NORMAL_CLOSURE || w.close_code == WSLAY_CODE_GOING_AWAY ? 0 : 1;
out:
    config_free(&cfg);
    sb_free(&repos);
    return rc;
}
