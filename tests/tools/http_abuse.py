#!/usr/bin/env python3
"""Careless and hostile HTTP clients, for the hardening tests.

  http_abuse.py bigbody PORT PATH MB (plain|chunked) (signed|unsigned) SECRET
      streams an MB-megabyte body (never held whole) and prints the status
      (or "closed" if the server hung up before answering)
  http_abuse.py webhook PORT SECRET BYTES
      one signed `issues` delivery whose JSON is about BYTES long; prints the status
  http_abuse.py flood PORT COUNT SECONDS
      opens COUNT idle connections, holds them SECONDS, prints how many opened
  http_abuse.py paths PORT COUNT
      COUNT requests to distinct unknown and long paths; prints the statuses seen"""
import hashlib
import hmac
import json
import socket
import sys
import time


def status_of(sock):
    sock.settimeout(30)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    line = data.split(b"\r\n", 1)[0].split()
    return line[1].decode() if len(line) >= 2 else "closed"


def bigbody(port, path, mb, mode, signed, secret):
    block = b"x" * (1 << 20)
    sig = "sha256=" + "0" * 64
    if signed == "signed":   # the real signature, computed by streaming
        mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
        for _ in range(mb):
            mac.update(block)
        sig = "sha256=" + mac.hexdigest()
    s = socket.create_connection(("127.0.0.1", port))
    head = "POST %s HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\nX-Hub-Signature-256: %s\r\n" % (path, sig)
    head += "Transfer-Encoding: chunked\r\n" if mode == "chunked" else "Content-Length: %d\r\n" % (mb << 20)
    try:
        s.sendall((head + "\r\n").encode())
        for _ in range(mb):
            if mode == "chunked":
                s.sendall(b"%x\r\n" % len(block) + block + b"\r\n")
            else:
                s.sendall(block)
        if mode == "chunked":
            s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(status_of(s))
    s.close()


def webhook(port, secret, nbytes):
    ev = {"action": "opened",
          "issue": {"id": 4242, "number": 42, "title": "Large", "body": "", "state": "open", "labels": [],
                    "user": {"login": "u"}, "created_at": "2024-01-01T00:00:00Z",
                    "updated_at": "2024-01-01T00:00:00Z"},
          "repository": {"id": 1, "name": "repo", "full_name": "big/repo", "private": False}}
    ev["issue"]["body"] = "y" * (nbytes - len(json.dumps(ev)))
    raw = json.dumps(ev).encode()
    sig = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    s = socket.create_connection(("127.0.0.1", port))
    try:   # the server may answer 413 and hang up before the body is sent
        s.sendall(("POST /webhook/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\n"
                   "X-Hub-Signature-256: %s\r\nContent-Length: %d\r\n\r\n" % (sig, len(raw))).encode() + raw)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(status_of(s))


def flood(port, count, seconds):
    socks = []
    for _ in range(count):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            break
    print(len(socks), flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()


def paths(port, count):
    seen = set()
    for i in range(count):
        path = "/no/such/%d/%s" % (i, "p" * (i % 300))
        if i % 3 == 0:
            path = "/api/admin/kafka/consumer-groups/g%d/%s" % (i, "reset-offsets-but-longer" * (i % 7))
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        seen.add(status_of(s))
        s.close()
    print(" ".join(sorted(seen)))


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "bigbody":
        bigbody(port, sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7])
    elif cmd == "webhook":
        webhook(port, sys.argv[3], int(sys.argv[4]))
    elif cmd == "flood":
        flood(port, int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "paths":
        paths(port, int(sys.argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
