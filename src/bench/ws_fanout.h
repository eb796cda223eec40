/* ws_fanout.h -- the many WebSocket clients of `dispatchd bench ws`. */
#ifndef DISPATCHD_WS_FANOUT_H
#define DISPATCHD_WS_FANOUT_H

/* Opens nconn connections to ws://host:port/ws?token=TOKEN, prints "ready"
 * once every one is upgraded, then, when each has `want` issue messages or
 * timeout_s is up, one JSON line: delivered, the first and last record and
 * receipt times (ms), p50/p99 latency (ms), how many connections the
 * server closed. Exits the process on a refused connection. */
int ws_fanout_run(const char *host, int port, const char *token, int nconn, long want, long timeout_s);

#endif
