#!/usr/bin/env python3
"""preload.py - fills the stores with past votes fast, to test and measure at election size.

Writes straight into MongoDB vote.votes, in the vote sink's exact document shape
(workers/vote-sink/vote_sink.c, vote_document), with ULID ids whose time is long before
any run (so no run's ids or received_at range meet them), and adds the same votes to
Redis poll:{p}:totals and poll:{p}:count, so the stores stay consistent with each other.
Voter sets are left alone: these votes are history, and 1 M voters would only cost memory.

  preload.py --target 1000000     makes sure preloaded votes 0 .. 999999 are there

The ids are the same on every run (fixed ULID time and random part), so the load is
idempotent: batches already there are skipped after two `_id` look-ups, an interrupted
load is finished (duplicate keys are not counted again in Redis), nothing is counted.
Bulk: unordered insert_many of --batch documents over --connections connections.
Prints documents inserted, seconds and documents/s. Environment as audit.py (MONGO_URI or
MONGO_PORT, REDIS_PORT, POLL_CATALOG).
"""
import argparse
import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
EPOCH_MS = 1735689600000            # 2025-01-01T00:00:00Z: before any run of this project
SALT = 0x5EED_0F_4B1D_0000_0000     # the random part of the ULIDs: fixed, the ids are the same every time


def env(name, default):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


def ulid(ms, rand80):
    n = (ms << 80) | rand80
    return "".join(B32[(n >> (5 * (25 - i))) & 31] for i in range(26))


def documents(polls, first, n):
    """preloaded votes first .. first+n-1: the same ids and fields on every call, so a second
    load of the same range finds them (duplicate keys) instead of adding more"""
    docs = []
    for i in range(first, first + n):
        p = polls[i % len(polls)]
        choice = p["choices"][(i * 7 + i // 13) % len(p["choices"])]
        doc = {"_id": ulid(EPOCH_MS + i, SALT + i), "v": 1, "kind": "vote", "poll": p["id"],
               "choice": choice}
        if p["attrs"]:
            doc["voter"] = "pre-%d" % i
        doc["attrs"] = {a: "%s-%d" % (a, i % 97) for a in p["attrs"]}
        doc["received_at"] = EPOCH_MS + i
        docs.append(doc)
    return docs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", type=int, required=True, help="preloaded votes the store should hold")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--connections", type=int, default=2)
    ap.add_argument("--redis-prefix", default=env("VOTE_SINK_REDIS_PREFIX", ""))
    args = ap.parse_args(argv)
    if args.target < 0 or args.batch < 1 or args.connections < 1:
        ap.error("--target >= 0, --batch and --connections >= 1")

    import pymongo
    import redis
    from pymongo.errors import BulkWriteError
    uri = env("MONGO_URI", "mongodb://127.0.0.1:%s/" % env("MONGO_PORT", "27017"))
    coll = pymongo.MongoClient(uri, maxPoolSize=args.connections)["vote"]["votes"]
    r = redis.Redis(host="127.0.0.1", port=int(env("REDIS_PORT", "6379")))
    with open(env("POLL_CATALOG", os.path.join(ROOT, "stack", "polls.json")), encoding="utf-8") as f:
        polls = json.load(f)["polls"]

    start, lock, errors = time.time(), threading.Lock(), []
    todo = list(range(0, args.target, args.batch))
    added = [0, 0]          # documents inserted, batches already there

    def insert(docs, tries=5):
        """SQLite answers "database is locked" while another writer holds it (e.g. an ANALYZE
        that collStats starts): wait and send the batch again"""
        for t in range(tries):
            try:
                return coll.insert_many(docs, ordered=False)
            except pymongo.errors.OperationFailure as e:
                if "SQLITE_BUSY" not in str(e) or t == tries - 1:
                    raise
                time.sleep(1 + t)

    def worker():
        while True:
            with lock:
                if not todo or errors:
                    return
                first = todo.pop()
            docs = documents(polls, first, min(args.batch, args.target - first))
            # A batch whose first and last documents exist was loaded before: skip it without
            # counting the collection (a count reads every document on FerretDB).
            if coll.find_one({"_id": docs[0]["_id"]}, {"_id": 1}) and \
                    coll.find_one({"_id": docs[-1]["_id"]}, {"_id": 1}):
                with lock:
                    added[1] += 1
                continue
            try:
                insert(docs)
                new = docs
            except BulkWriteError as e:
                # documents of an interrupted earlier load are duplicate keys: not counted again
                errs = e.details.get("writeErrors", [])
                if any(x.get("code") != 11000 for x in errs):
                    with lock:
                        errors.append("insert: %s" % errs[:1])
                    return
                dup = {x["index"] for x in errs}
                new = [d for i, d in enumerate(docs) if i not in dup]
            except Exception as e:      # noqa: BLE001 - reported and fatal
                with lock:
                    errors.append("%s: %s" % (type(e).__name__, e))
                return
            totals = {}
            for d in new:
                t = totals.setdefault(d["poll"], {})
                t[d["choice"]] = t.get(d["choice"], 0) + 1
            pipe = r.pipeline(transaction=False)
            for p, t in totals.items():
                base = "%spoll:%s:" % (args.redis_prefix, p)
                for c, k in t.items():
                    pipe.hincrby(base + "totals", c, k)
                pipe.incrby(base + "count", sum(t.values()))
            pipe.execute()
            with lock:
                added[0] += len(new)

    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("preload: FAILED: %s" % errors[0], file=sys.stderr)
        return 1
    secs = time.time() - start
    print("preload: %d preloaded votes present (%d inserted in %.1f s, %.0f/s; %d batches were there)" % (
        args.target, added[0], secs, added[0] / secs if secs else 0, added[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
