#!/usr/bin/python3
"""A real WebSocket client (Debian's python3-websockets) for the /ws tests.

  ws_client.py probe URL [--origin O]
      prints the HTTP status the upgrade got (101 when it was accepted) and
      the Sec-WebSocket-Extensions the server answered ("-": none).
  ws_client.py mute URL
      a client that completes the handshake, then reads and never answers
      (no pong, no close); prints how many seconds until the server dropped
      it.
  ws_client.py collect URL --out FILE [--n N] [--seconds S] [--stop-file F]
                       [--slow] [--subscribe REPO...] [--send TEXT]
      opens N sockets to URL, prints "ready" once all are open, records every
      message (with the time it arrived, ms) as JSON lines in FILE.<i>, and
      "CODE TIME_MS REASON" of the close in FILE.<i>.close; stops after S seconds, when
      F exists, or when the server closes the socket. --slow sockets read
      nothing (a tiny receive buffer, so the server sees it) until F exists,
      then read what is left and the close.
"""
import argparse
import asyncio
import json
import os
import socket
import sys
import time
import urllib.parse

import websockets


def now_ms():
    return int(time.time() * 1000)


async def probe(args):
    headers = {"Origin": args.origin} if args.origin else None
    try:
        ws = await websockets.connect(args.url, extra_headers=headers, open_timeout=10)
    except websockets.exceptions.InvalidStatusCode as e:
        print(e.status_code, "-")
        return 0
    print(101, ws.response_headers.get("Sec-WebSocket-Extensions", "-"))
    await ws.close()
    return 0


def mute(args):
    u = urllib.parse.urlparse(args.url)
    s = socket.create_connection((u.hostname, u.port))
    target = u.path + ("?" + u.query if u.query else "")
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (target, u.hostname, u.port)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    if not head.startswith(b"HTTP/1.1 101"):
        print("refused", head.split(b"\r\n")[0].decode())
        return 1
    t0 = time.time()
    s.settimeout(args.seconds)
    try:
        while s.recv(65536):
            pass
    except (socket.timeout, ConnectionResetError):
        pass
    print("%.1f" % (time.time() - t0))
    return 0


def connect_socket(url, slow):
    u = urllib.parse.urlparse(url)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if slow:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((u.hostname, u.port))
    return s


async def one(i, args, opened, stop):
    sock = connect_socket(args.url, args.slow)
    ws = await websockets.connect(args.url, sock=sock, max_queue=1 if args.slow else 4096,
                                  max_size=1 << 24, ping_interval=None, open_timeout=20)
    if args.subscribe:
        await ws.send(json.dumps({"type": "subscribe", "repos": args.subscribe}))
    if args.send:
        await ws.send(args.send)
    opened.append(i)
    out = open("%s.%d" % (args.out, i), "w", buffering=1)
    if args.slow:
        await stop.wait()
    try:
        while True:
            if not args.slow and stop.is_set():
                break
            try:
                msg = await asyncio.wait_for(ws.recv(), 0.2)
            except asyncio.TimeoutError:
                continue
            out.write(json.dumps({"recv_ms": now_ms(), "msg": json.loads(msg)}) + "\n")
    except websockets.exceptions.ConnectionClosed:
        pass
    out.close()
    if not ws.closed:
        await ws.close()
    with open("%s.%d.close" % (args.out, i), "w") as f:
        f.write("%s %d %s\n" % (ws.close_code, now_ms(), ws.close_reason or "-"))


async def watch_stop(args, stop):
    deadline = time.time() + args.seconds
    while time.time() < deadline and not (args.stop_file and os.path.exists(args.stop_file)):
        await asyncio.sleep(0.1)
    stop.set()


async def collect(args):
    opened, stop = [], asyncio.Event()
    tasks = []
    for i in range(args.n):
        tasks.append(asyncio.create_task(one(i, args, opened, stop)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    while len(opened) < args.n:
        for t in tasks:
            if t.done() and t.exception() is not None:
                raise t.exception()
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    stopper = asyncio.create_task(watch_stop(args, stop))
    await asyncio.gather(*tasks)
    stopper.cancel()
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["probe", "collect", "mute"])
    ap.add_argument("url")
    ap.add_argument("--origin")
    ap.add_argument("--out")
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--stop-file")
    ap.add_argument("--slow", action="store_true")
    ap.add_argument("--subscribe", nargs="*")
    ap.add_argument("--send")
    args = ap.parse_args()
    if args.mode == "mute":
        return mute(args)
    return asyncio.run(probe(args) if args.mode == "probe" else collect(args))


if __name__ == "__main__":
    sys.exit(main())
