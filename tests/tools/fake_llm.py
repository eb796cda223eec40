#!/usr/bin/env python3
"""A fake OpenAI-compatible chat-completions server for tests and benchmarks.

  fake_llm.py [--port 0] [--latency-ms 200] [--jitter-ms 0] [--script JSON]

Prints "fake-llm listening on PORT" once ready. POST /v1/chat/completions
answers with a classification as the JSON content of the assistant's
message, derived from the issue's title (so tests can tell answers apart).
The behaviour is scripted, at start (--script) or at any time
(POST /script with the same JSON), as a list of rules tried in order:

  {"rules": [{"first": 5, "status": 429, "retry_after": 2},
             {"rate": 0.1, "status": 500},
             {"match": "hang", "hang": true},
             {"first": 3, "content": "not json"},
             {"rate": 0.2, "content": "bad-enum"}],
   "latency_ms": 200, "jitter_ms": 50}

"first": N applies to the first N requests (counted per rule), "rate": p to
that share of them, "match": s to requests whose prompt contains s,
"unless": s not to those (e.g. a repair request, which quotes the error),
"from_s"/"until_s": to requests arriving in that span of seconds after the
first request (e.g. a 429 storm).
"content": "not json" | "bad-enum" | any literal text. GET /stats answers
{"requests", "by_status", "in_flight", "max_in_flight", "per_second":
{unix_second: count}, "max_per_minute", "titles": {title: count}};
GET /stats?log=1 adds "log": [[arrived, answered, status]] per request, in
seconds after the first request.
POST /reset clears the statistics.
"""
import argparse
import asyncio
import json
import random
import re
import sys
import time

STATE = {"script": {"rules": [], "latency_ms": 200, "jitter_ms": 0}, "counters": {}}
STATS = {}
LOG = []


def reset_stats():
    STATS.clear()
    STATS.update({"requests": 0, "by_status": {}, "in_flight": 0, "max_in_flight": 0, "per_second": {},
                  "titles": {}})
    STATE["counters"] = {}
    STATE["t0"] = None
    LOG.clear()


def classification(title):
    t = title.lower()
    if "crash" in t or "error" in t or "fail" in t or "bug" in t:
        cat, pri = "bug", "high"
    elif "how" in t or "?" in t or "why" in t:
        cat, pri = "question", "low"
    elif "doc" in t:
        cat, pri = "documentation", "low"
    else:
        cat, pri = "feature_request", "medium"
    return {"category": cat, "priority": pri, "severity": pri, "estimated_effort": "small",
            "component": "core", "confidence": 0.9, "tags": ["fake-llm", cat],
            "summary": "fake: " + title[:80], "reasoning": "scripted by fake_llm.py",
            "sentiment": "neutral"}


def pick_rule(prompt, arrived):
    for i, rule in enumerate(STATE["script"].get("rules", [])):
        if "from_s" in rule and arrived < rule["from_s"]:
            continue
        if "until_s" in rule and arrived >= rule["until_s"]:
            continue
        if "match" in rule and rule["match"] not in prompt:
            continue
        if "unless" in rule and rule["unless"] in prompt:
            continue
        if "first" in rule:
            n = STATE["counters"].get(i, 0)
            if n >= rule["first"]:
                continue
            STATE["counters"][i] = n + 1
        if "rate" in rule and random.random() >= rule["rate"]:
            continue
        return rule
    return None


async def completion(body, arrived):
    """Returns (status, headers, body bytes) for one request."""
    try:
        req = json.loads(body)
        messages = req["messages"]
        prompt = "\n".join(m.get("content", "") for m in messages if isinstance(m, dict))
    except (ValueError, KeyError, TypeError):
        return 400, {}, json.dumps({"error": {"message": "bad request"}}).encode()
    m = re.search(r"Title: (.*)", prompt)
    title = m.group(1).strip() if m else ""
    STATS["titles"][title] = STATS["titles"].get(title, 0) + 1
    script = STATE["script"]
    delay = (script.get("latency_ms", 0) + random.uniform(0, script.get("jitter_ms", 0))) / 1000.0
    rule = pick_rule(prompt, arrived)
    if rule and rule.get("hang"):
        await asyncio.sleep(3600)
    await asyncio.sleep(delay)
    if rule and "status" in rule:
        headers = {}
        if "retry_after" in rule:
            headers["Retry-After"] = str(rule["retry_after"])
        return rule["status"], headers, json.dumps({"error": {"message": "scripted %d" % rule["status"]}}).encode()
    content = json.dumps(classification(title))
    if rule and "content" in rule:
        if rule["content"] == "bad-enum":
            c = classification(title)
            c["category"] = "catastrophe"
            content = json.dumps(c)
        else:
            content = rule["content"]
    answer = {"id": "fake-%d" % STATS["requests"], "object": "chat.completion", "created": int(time.time()),
              "model": req.get("model", "fake"),
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": content}}],
              "usage": {"prompt_tokens": 400, "completion_tokens": 100, "total_tokens": 500}}
    return 200, {}, json.dumps(answer).encode()


def max_per_minute():
    secs = sorted((int(k), v) for k, v in STATS["per_second"].items())
    best, window, j = 0, 0, 0
    for i, (s, n) in enumerate(secs):
        window += n
        while secs[j][0] <= s - 60:
            window -= secs[j][1]
            j += 1
        best = max(best, window)
    return best


async def handle(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            method, path, _ = line.decode("latin-1").split(" ", 2)
            length = 0
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            body = await reader.readexactly(length) if length else b""
            headers = {}
            if method == "POST" and path.endswith("/chat/completions"):
                STATS["requests"] += 1
                sec = str(int(time.time()))
                STATS["per_second"][sec] = STATS["per_second"].get(sec, 0) + 1
                STATS["in_flight"] += 1
                STATS["max_in_flight"] = max(STATS["max_in_flight"], STATS["in_flight"])
                now = time.time()
                if STATE["t0"] is None:
                    STATE["t0"] = now
                arrived = now - STATE["t0"]
                try:
                    status, headers, out = await completion(body, arrived)
                finally:
                    STATS["in_flight"] -= 1
                LOG.append([round(arrived, 4), round(time.time() - STATE["t0"], 4), status])
                STATS["by_status"][str(status)] = STATS["by_status"].get(str(status), 0) + 1
            elif method == "GET" and path.startswith("/stats"):
                extra = {"log": LOG} if "log=1" in path else {}
                status, out = 200, json.dumps(dict(STATS, max_per_minute=max_per_minute(), **extra)).encode()
            elif method == "POST" and path == "/script":
                STATE["script"] = json.loads(body)
                STATE["counters"] = {}
                status, out = 200, b'{"ok":true}'
            elif method == "POST" and path == "/reset":
                reset_stats()
                status, out = 200, b'{"ok":true}'
            else:
                status, out = 404, b'{"error":{"message":"no such path"}}'
            head = "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (status, len(out))
            head += "".join("%s: %s\r\n" % kv for kv in headers.items())
            writer.write(head.encode() + b"\r\n" + out)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=200)
    ap.add_argument("--jitter-ms", type=float, default=0)
    ap.add_argument("--script", default=None)
    a = ap.parse_args()
    reset_stats()
    STATE["script"] = json.loads(a.script) if a.script else {"rules": []}
    STATE["script"].setdefault("latency_ms", a.latency_ms)
    STATE["script"].setdefault("jitter_ms", a.jitter_ms)
    server = await asyncio.start_server(handle, "127.0.0.1", a.port, backlog=4096)
    print("fake-llm listening on %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
