#!/usr/bin/env python3
"""mongo-reads.py URI DB DOCS LOOKUPS [SECONDS] - the audit's reads, timed (mongo-backends.sh).

Against the DOCS documents that `sink-inspect bench` wrote into DB.votes (ids 01BENCH + 19
digits), prints three numbers: `_id` equality look-ups per second (LOOKUPS of them, one
find_one each, as locust/audit.py asks), ids per second through `$in` queries of 250 (the same
ids), and the milliseconds of one count_documents by poll (a whole-collection filter). Each kind of
read stops after SECONDS (default 20) and its rate is taken over what it did: a backend that
scans the table per look-up is measured, not waited for."""
import random
import sys
import time

import pymongo


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    uri, db, docs, lookups = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    budget = float(sys.argv[5]) if len(sys.argv) == 6 else 20.0
    coll = pymongo.MongoClient(uri)[db]["votes"]
    rnd = random.Random(7)
    ids = ["01BENCH%019d" % rnd.randrange(docs) for _ in range(lookups)]
    t0 = time.monotonic()
    asked = found = 0
    for x in ids:
        if time.monotonic() - t0 > budget:
            break
        asked += 1
        found += coll.find_one({"_id": x}, {"poll": 1}) is not None
    t1 = time.monotonic()
    asked_in = found_in = want_in = 0
    for i in range(0, len(ids), 250):
        if time.monotonic() - t1 > budget:
            break
        chunk = ids[i:i + 250]
        asked_in += len(chunk)
        want_in += len(set(chunk))
        found_in += sum(1 for _ in coll.find({"_id": {"$in": chunk}}, {"poll": 1}))
    t2 = time.monotonic()
    coll.count_documents({"poll": "guatemala-2027"})
    t3 = time.monotonic()
    if found != asked or found_in != want_in:
        sys.exit("mongo-reads.py: found %d of %d and %d of %d ids" % (found, asked, found_in, want_in))
    print("%.0f %.0f %.0f" % (asked / (t1 - t0), asked_in / (t2 - t1), (t3 - t2) * 1000))


if __name__ == "__main__":
    main()
