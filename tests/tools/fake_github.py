#!/usr/bin/python3
"""A scripted GitHub REST API for the sync tests and benchmark: only what
dispatchd's sync asks, behaving as GitHub documents it.

  fake_github.py [--issues N] [--prs M] [--repo owner/name ...] [--page-ms MS]
                 [--quota Q] [--reset-s S] [--secondary-every K]
                 [--secondary-retry-after S] [--fail-every K]
                 [--edit-after-page P] [--edit-count E]

Prints "listening PORT" once ready (127.0.0.1 only).

Serves
  GET /repos/{o}/{r}/issues?state=all&per_page=&sort=updated&direction=asc&since=&page=
      issues and pull requests (PRs carry a `pull_request` key), ordered by
      updated_at then id; `Link` with rel="next" and rel="last"; an ETag per
      page, and 304 (costing no quota) on a matching If-None-Match.
  GET /search/issues?q=repo:o/r+is:issue   {"total_count": issues}
Scripted trouble
  --quota Q --reset-s S     the primary limit: Q requests per window of S s,
                            then 403 with x-ratelimit-remaining: 0 until the
                            reset (every answer carries x-ratelimit-*)
  --secondary-every K       every K-th request: 403 secondary limit, with
                            retry-after --secondary-retry-after (0: without)
  --fail-every K            every K-th request: 502
  --page-ms MS              each page takes this long
  --token T                 401 for requests without Authorization: Bearer T
  --edit-after-page P       after the P-th page served, E issues are edited
                            (updated_at = now, title changed): a sync paging
                            by updated_at must still fetch their new version
Inspection
  GET /stats   {"requests", "pages", "not_modified", "violations": requests
                sent while the primary limit was exhausted or inside a
                retry-after, "edited": [issue numbers], "pages_by_repo",
                "max_concurrent": the most requests at once (the stats included)}
  POST /edit?count=E   edits E issues now (as --edit-after-page does)
"""
import argparse
import bisect
import datetime
import hashlib
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        # every repository has the same issues, under ids of its own
        self.repos = {}
        for k, full in enumerate(a.repo or ["acme/api"]):
            self.repos[tuple(full.split("/"))] = self.generate(full, 8000000000 + k * 10000000)
        self.order = {}   # repo -> (items sorted by updated_at then id, their updated_at): kept, not made per request
        for key in self.repos:
            self.sort(key)
        self.requests = self.pages = self.not_modified = self.violations = 0
        self.inflight = self.max_inflight = 0
        self.pages_by_repo = {"/".join(k): 0 for k in self.repos}
        self.window_start = time.time()
        self.used = 0
        self.retry_until = 0.0
        self.edited = []

    def generate(self, repo, id_base):
        a = self.a
        base = 1700000000
        items = []
        n = a.issues + a.prs
        stride = n // a.prs if a.prs else 0
        prs = 0
        for i in range(n):
            number = i + 1
            is_pr = stride > 0 and i % stride == stride - 1 and prs < a.prs
            prs += is_pr
            it = {
                "id": id_base + number, "number": number,
                "title": ("Fix the build on ARM" if is_pr else "Crash when saving settings #%d" % number),
                "body": "Steps to reproduce: open settings, press save. Expected it saves; it crashes.",
                "state": "open" if number % 3 else "closed",
                "labels": [{"name": "bug", "color": "d73a4a"}] if number % 2 else [],
                "created_at": iso(base + number * 60), "updated_at": iso(base + number * 60),
                "html_url": "https://github.com/%s/issues/%d" % (repo, number),
                "user": {"id": 1000 + number % 50, "login": "user%d" % (number % 50)},
            }
            if is_pr:
                it["pull_request"] = {"url": "https://api.github.com/repos/%s/pulls/%d" % (repo, number)}
            items.append(it)
        return items

    def sort(self, key):
        items = sorted(self.repos[key], key=lambda it: (it["updated_at"], it["id"]))
        self.order[key] = (items, [it["updated_at"] for it in items])

    def edit(self, count):
        """Edits the next `count` issues of the first repository."""
        now = time.time()
        first = next(iter(self.repos.values()))
        issues = [it for it in first if "pull_request" not in it]
        for k, it in enumerate(issues[len(self.edited):len(self.edited) + count]):
            it["updated_at"] = iso(now + k)
            it["title"] = it["title"] + " (edited)"
            self.edited.append(it["number"])
        self.sort(next(iter(self.repos)))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without TCP_NODELAY a client
    # that keeps the connection waits for a delayed ACK (40 ms) every answer
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def send(self, code, body, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        u = urllib.parse.urlparse(self.path)
        if u.path == "/edit":
            n = int(urllib.parse.parse_qs(u.query).get("count", ["1"])[0])
            with S.lock:
                S.edit(n)
            return self.send(200, {"edited": S.edited})
        self.send(404, {"message": "Not Found"})

    def rate_headers(self):
        a = S.a
        if a.quota <= 0:
            return {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999",
                    "x-ratelimit-reset": str(int(time.time()) + 3600)}
        return {"x-ratelimit-limit": str(a.quota), "x-ratelimit-remaining": str(max(0, a.quota - S.used)),
                "x-ratelimit-reset": str(int(S.window_start + a.reset_s))}

    def do_GET(self):
        with S.lock:
            S.inflight += 1
            S.max_inflight = max(S.max_inflight, S.inflight)
        try:
            self.get()
        finally:
            with S.lock:
                S.inflight -= 1

    def get(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/stats":
            with S.lock:
                return self.send(200, {"requests": S.requests, "pages": S.pages, "not_modified": S.not_modified,
                                       "violations": S.violations, "edited": S.edited,
                                       "pages_by_repo": S.pages_by_repo, "max_concurrent": S.max_inflight})
        a = S.a
        if a.token and self.headers.get("Authorization") != "Bearer " + a.token:
            return self.send(401, {"message": "Bad credentials"})
        with S.lock:
            now = time.time()
            S.requests += 1
            if a.quota > 0 and now >= S.window_start + a.reset_s:
                S.window_start, S.used = now, 0
            if now < S.retry_until or (a.quota > 0 and S.used >= a.quota):
                S.violations += 1
            if a.quota > 0 and S.used >= a.quota:
                h = self.rate_headers()
                return self.send(403, {"message": "API rate limit exceeded"}, h)
            if a.secondary_every and S.requests % a.secondary_every == 0:
                h = self.rate_headers()
                if a.secondary_retry_after > 0:
                    h["retry-after"] = str(a.secondary_retry_after)
                    S.retry_until = now + a.secondary_retry_after
                return self.send(403, {"message": "You have exceeded a secondary rate limit"}, h)
            if a.fail_every and S.requests % a.fail_every == 0:
                return self.send(502, {"message": "Server Error"})
        if u.path == "/search/issues":
            terms = dict(t.split(":", 1) for t in q.get("q", [""])[0].split() if ":" in t)
            key = tuple(terms.get("repo", "").split("/", 1))
            if key not in S.repos:
                return self.send(422, {"message": "Validation Failed"})
            with S.lock:
                S.used += 1
                count = sum(1 for it in S.repos[key] if "pull_request" not in it)
                h = self.rate_headers()
            return self.send(200, {"total_count": count, "incomplete_results": False, "items": []}, h)
        parts = u.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "repos" or parts[3] != "issues" or \
                (parts[1], parts[2]) not in S.repos:
            return self.send(404, {"message": "Not Found"})
        per_page = min(100, int(q.get("per_page", ["30"])[0]))
        page = int(q.get("page", ["1"])[0])
        since = q.get("since", [""])[0]
        time.sleep(a.page_ms / 1000.0)
        with S.lock:
            items, stamps = S.order[(parts[1], parts[2])]
            first = bisect.bisect_left(stamps, since) if since else 0
            last = max(1, (len(items) - first + per_page - 1) // per_page)
            body = items[first + (page - 1) * per_page:first + page * per_page]
            etag = '"%s"' % hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()
            h = {"ETag": etag}
            if self.headers.get("If-None-Match") == etag:
                S.not_modified += 1
                h.update(self.rate_headers())
                return self.send(304, None, h)
            S.used += 1
            S.pages += 1
            S.pages_by_repo[parts[1] + "/" + parts[2]] += 1
            h.update(self.rate_headers())
            base = "http://%s%s?" % (self.headers.get("Host"), u.path)
            keep = {k: v[0] for k, v in q.items() if k != "page"}
            links = []
            if page < last:
                links.append('<%s>; rel="next"' % (base + urllib.parse.urlencode(dict(keep, page=page + 1))))
            links.append('<%s>; rel="last"' % (base + urllib.parse.urlencode(dict(keep, page=last))))
            h["Link"] = ", ".join(links)
            if a.edit_after_page and S.pages == a.edit_after_page:
                S.edit(a.edit_count)
        self.send(200, body, h)


def main():
    global S
    ap = argparse.ArgumentParser()
    ap.add_argument("--issues", type=int, default=2500)
    ap.add_argument("--prs", type=int, default=0)
    ap.add_argument("--repo", action="append", help="owner/name (repeatable; default acme/api)")
    ap.add_argument("--page-ms", type=int, default=0)
    ap.add_argument("--quota", type=int, default=0)
    ap.add_argument("--reset-s", type=float, default=60)
    ap.add_argument("--secondary-every", type=int, default=0)
    ap.add_argument("--secondary-retry-after", type=int, default=0)
    ap.add_argument("--fail-every", type=int, default=0)
    ap.add_argument("--edit-after-page", type=int, default=0)
    ap.add_argument("--edit-count", type=int, default=1)
    ap.add_argument("--token", default="", help="answer 401 unless Authorization: Bearer TOKEN")
    a = ap.parse_args()
    S = State(a)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("listening", srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
