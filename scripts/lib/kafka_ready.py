#!/usr/bin/env python3
"""Exit 0 once a Kafka broker answers a Metadata request (v4) listing at
least one broker; exit 1 otherwise. Usage: kafka_ready.py HOST PORT"""
import socket
import struct
import sys


def metadata_ok(host: str, port: int) -> bool:
    client = b"dispatchd-ready"
    # Request header v1: api_key=3 (Metadata), api_version=4, correlation_id, client_id
    body = struct.pack(">hhih", 3, 4, 7, len(client)) + client
    # Metadata v4: topics = null (all), allow_auto_topic_creation = false
    body += struct.pack(">i?", -1, False)
    with socket.create_connection((host, port), timeout=2) as s:
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _read(s, 4))[0]
        resp = _read(s, size)
    correlation, _throttle, nbrokers = struct.unpack(">iii", resp[:12])
    return correlation == 7 and nbrokers >= 1


def _read(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


if __name__ == "__main__":
    try:
        sys.exit(0 if metadata_ok(sys.argv[1], int(sys.argv[2])) else 1)
    except (OSError, struct.error, ConnectionError):
        sys.exit(1)
