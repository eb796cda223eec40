#!/usr/bin/env python3
"""Prints an HS256 JWT for a user, for tests and trying the /repos and /ws paths by hand.

  scripts/lib/jwt.py USER_ID SECRET [TTL_SECONDS [REPO_PATTERN...]]

REPO_PATTERNs (owner/repo or owner/*) become the token's `repos` claim: the
repositories whose events GET /ws sends the user. TTL may be negative (an
expired token, for tests)."""
import base64
import hashlib
import hmac
import json
import sys
import time


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ttl = int(sys.argv[3]) if len(sys.argv) >= 4 else 3600
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = {"sub": sys.argv[1], "exp": int(time.time()) + ttl}
    if len(sys.argv) > 4:
        body["repos"] = sys.argv[4:]
    claims = b64url(json.dumps(body).encode())
    signing = (header + "." + claims).encode()
    sig = b64url(hmac.new(sys.argv[2].encode(), signing, hashlib.sha256).digest())
    print(header + "." + claims + "." + sig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
