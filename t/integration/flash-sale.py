#!/usr/bin/env python3
"""flash-sale.py - N buyers order one book at the same moment, through the edge (HTTPS).

Each buyer is a thread with its own TLS connection and its own HS256 token (signed here with the
stack's JWT secret, as the api daemon would sign a login: the edge checks signature, expiry and
revocation, not the account). Every thread connects first, then all wait at a barrier and send
POST /api/orders {"book": BOOK, "copies": 1} together. --waves W splits the buyers into W bursts
--wave-gap seconds apart (to keep a sale going while a fault test breaks things).

Prints one line per buyer: "<buyer> <status> <order id or ->", for the test to check.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(kid, secret, sub, jti):
    now = int(time.time())
    h = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    p = b64(json.dumps({"sub": sub, "iat": now, "exp": now + 3600, "jti": jti}).encode())
    sig = hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64(sig)}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("EDGE_URL", "https://127.0.0.1:8443"))
    ap.add_argument("--ca", default=os.environ.get("EDGE_CA_FILE"))
    ap.add_argument("--secrets", required=True, help="the jwt-secrets file: first line 'kid secret'")
    ap.add_argument("--book", type=int, required=True)
    ap.add_argument("--buyers", type=int, default=1000)
    ap.add_argument("--prefix", required=True, help="buyer names are PREFIX + number")
    ap.add_argument("--waves", type=int, default=1)
    ap.add_argument("--wave-gap", type=float, default=2.0)
    a = ap.parse_args()

    with open(a.secrets) as f:
        kid, secret = f.readline().split()
    u = urllib.parse.urlsplit(a.url)
    ctx = ssl.create_default_context(cafile=a.ca)
    body = json.dumps({"book": a.book, "copies": 1})
    per_wave = -(-a.buyers // a.waves)
    results = [None] * a.buyers
    lock = threading.Lock()

    def buyer(i, barrier):
        name = f"{a.prefix}{i}"
        tok = token(kid, secret, name, f"{name}-jti")
        try:
            c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
            c.connect()
        except OSError as e:
            barrier.wait()
            results[i] = (name, "connect-failed:" + type(e).__name__, "-")
            return
        barrier.wait()
        try:
            c.request("POST", "/api/orders", body, {"Content-Type": "application/json",
                                                    "Authorization": "Bearer " + tok})
            r = c.getresponse()
            data = r.read()
            oid = json.loads(data).get("id", "-") if r.status == 202 else "-"
            results[i] = (name, str(r.status), oid)
        except (OSError, ValueError, http.client.HTTPException) as e:
            results[i] = (name, "error:" + type(e).__name__, "-")
        finally:
            c.close()

    for w in range(a.waves):
        ids = range(w * per_wave, min(a.buyers, (w + 1) * per_wave))
        barrier = threading.Barrier(len(ids))
        threads = [threading.Thread(target=buyer, args=(i, barrier)) for i in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if w + 1 < a.waves:
            time.sleep(a.wave_gap)
    for r in results:
        print(" ".join(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
