#!/usr/bin/env python3
"""Posts GitHub webhook deliveries to dispatchd, signed like GitHub signs them.

  post_webhooks.py URL SECRET EVENT FILE.json
FILE holds a JSON array of delivery bodies (the @octokit/webhooks-examples
layout). Prints one JSON line {event, sent, accepted, refused}; exits 1 if any
delivery was refused."""
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.request
import uuid


def main():
    url, secret, event, path = sys.argv[1:5]
    with open(path, encoding="utf-8") as f:
        bodies = json.load(f)
    accepted = refused = 0
    for body in bodies:
        raw = json.dumps(body).encode()
        sig = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        req = urllib.request.Request(url, data=raw, method="POST", headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sig,
        })
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                accepted += resp.status in (200, 202)
        except urllib.error.HTTPError as e:
            refused += 1
            print("post_webhooks: %s refused: %s %s" % (event, e.code, e.read().decode()[:200]), file=sys.stderr)
    print(json.dumps({"event": event, "sent": len(bodies), "accepted": accepted, "refused": refused}))
    sys.exit(1 if refused else 0)


if __name__ == "__main__":
    main()
