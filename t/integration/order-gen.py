#!/usr/bin/env python3
"""order-gen.py - order records for the order sink tests, and what the sink must make of them.

Writes "key<TAB>value" lines (key = the book, as the edge keys orders) to stdout: COUNT orders
by a handful of buyers for books 1..BOOKS (and book 999999, which does not exist: unknown_book),
copies 1-3,
and POISON malformed records. With --expect FILE, it replays the orders per book in order
against the stock given by --stock (the sink applies one book's orders in partition order) and
writes "id status reason" per valid order: reserved, or rejected sold_out / unknown_book.
Ids are ULIDs made of digits: 01, the 6-digit run id, an 18-digit sequence number.
"""
import argparse
import json
import random

p = argparse.ArgumentParser()
p.add_argument("--run", required=True)
p.add_argument("--start", type=int, default=0)
p.add_argument("--count", type=int, required=True)
p.add_argument("--books", type=int, default=4)
p.add_argument("--stock", default="", help="comma-separated copies of books 1..BOOKS")
p.add_argument("--poison", type=int, default=0)
p.add_argument("--expect")
p.add_argument("--seed", type=int, default=14)
a = p.parse_args()

rnd = random.Random(a.seed + a.start)
stock = [int(x) for x in a.stock.split(",")] if a.stock else []
left = {i + 1: n for i, n in enumerate(stock)}
expect = []
for i in range(a.start, a.start + a.count):
    oid = "01%s%018d" % (a.run, i)
    book = 999999 if rnd.random() < 0.03 else rnd.randint(1, a.books)
    n = rnd.randint(1, 3)
    msg = {"v": 1, "kind": "order", "id": oid, "book": book, "copies": n,
           "buyer": "buyer%d" % rnd.randint(1, 7), "received_at": 1763786400000 + i}
    print("%d\t%s" % (book, json.dumps(msg, separators=(",", ":"))))
    if book not in left:
        expect.append("%s rejected unknown_book" % oid)
    elif left[book] >= n:
        left[book] -= n
        expect.append("%s reserved -" % oid)
    else:
        expect.append("%s rejected sold_out" % oid)
for i in range(a.poison):
    bad = {"v": 1, "kind": "order", "id": "01%s9%017d" % (a.run, i), "book": 1, "copies": 99,
           "buyer": "x", "received_at": 1}
    print("1\t%s" % json.dumps(bad))
if a.expect:
    with open(a.expect, "w") as f:
        f.write("\n".join(expect) + ("\n" if expect else ""))
