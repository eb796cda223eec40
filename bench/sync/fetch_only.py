#!/usr/bin/python3
"""The peer of make bench-sync: fetching alone. Walks a repository's issues
on the fake GitHub exactly as dispatchd's sync does (sort=updated,
direction=asc, each request the first page after the newest updated_at
taken, the ids of that instant not taken twice, Link rel="next" followed
when a page shares one instant), one request at a time, and keeps nothing.
Prints {"issues", "pages", "seconds"}.

  fetch_only.py API_URL OWNER/REPO
"""
import json
import re
import sys
import time
import urllib.parse
import urllib.request


def main():
    api, repo = sys.argv[1].rstrip("/"), sys.argv[2]
    since, boundary, next_url = "", set(), ""
    issues = pages = 0
    t0 = time.time()
    while True:
        url = next_url or "%s/repos/%s/issues?state=all&per_page=100&sort=updated&direction=asc%s" % (
            api, repo, "&since=" + urllib.parse.quote(since) if since else "")
        with urllib.request.urlopen(url) as r:
            body = json.load(r)
            link = r.headers.get("Link") or ""
        pages += 1
        m = re.search(r'<([^>]*)>;\s*rel="next"', link)
        newest = max((it["updated_at"] for it in body), default=since)
        for it in body:
            if not (it["updated_at"] == since and it["id"] in boundary) and "pull_request" not in it:
                issues += 1
        if not m or not body:
            break
        if newest > since:
            since, boundary, next_url = newest, set(), ""
        else:
            next_url = m.group(1)
        boundary |= {it["id"] for it in body if it["updated_at"] == since}
    print(json.dumps({"issues": issues, "pages": pages, "seconds": time.time() - t0}))


if __name__ == "__main__":
    sys.exit(main())
