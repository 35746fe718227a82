#!/usr/bin/env python3
"""mongo-reads.py URI DB DOCS LOOKUPS - the zero-loss audit's reads, timed (mongo-backends.sh).

Against the DOCS documents that `sink-inspect bench` wrote into DB.votes (ids 01BENCH + 19
digits), prints three numbers: `_id` equality look-ups per second (LOOKUPS of them, one
find_one each, as locust/audit.py asks), ids per second through `$in` queries of 250 (the same
ids), and the milliseconds of one count_documents by poll (a whole-collection filter)."""
import random
import sys
import time

import pymongo


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    uri, db, docs, lookups = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    coll = pymongo.MongoClient(uri)[db]["votes"]
    rnd = random.Random(7)
    ids = ["01BENCH%019d" % rnd.randrange(docs) for _ in range(lookups)]
    t0 = time.monotonic()
    found = sum(1 for x in ids if coll.find_one({"_id": x}, {"poll": 1}) is not None)
    t1 = time.monotonic()
    found_in = want_in = 0
    for i in range(0, len(ids), 250):
        chunk = ids[i:i + 250]
        want_in += len(set(chunk))
        found_in += sum(1 for _ in coll.find({"_id": {"$in": chunk}}, {"poll": 1}))
    t2 = time.monotonic()
    coll.count_documents({"poll": "guatemala-2027"})
    t3 = time.monotonic()
    if found != lookups or found_in != want_in:
        sys.exit("mongo-reads.py: found %d and %d of %d ids" % (found, found_in, lookups))
    print("%.0f %.0f %.0f" % (lookups / (t1 - t0), lookups / (t2 - t1), (t3 - t2) * 1000))


if __name__ == "__main__":
    main()
