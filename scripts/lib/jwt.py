#!/usr/bin/env python3
"""Prints an HS256 JWT for a user, for tests and trying the /repos paths by hand.

  scripts/lib/jwt.py USER_ID SECRET [TTL_SECONDS]"""
import base64
import hashlib
import hmac
import json
import sys
import time


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    ttl = int(sys.argv[3]) if len(sys.argv) == 4 else 3600
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"sub": sys.argv[1], "exp": int(time.time()) + ttl}).encode())
    signing = (header + "." + claims).encode()
    sig = b64url(hmac.new(sys.argv[2].encode(), signing, hashlib.sha256).digest())
    print(header + "." + claims + "." + sig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
