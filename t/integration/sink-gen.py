#!/usr/bin/env python3
"""sink-gen.py - deterministic test messages for the sink integration tests and benchmarks.

Prints one Kafka record per line as "key<TAB>json" (kcat -K '\t' format) and writes the
expected outcome to --expect FILE as shell assignments (N_VALID, N_DUP, N_POISON, ...).

  sink-gen.py vote --run 123 --count 1000 [--start 0] [--poison 3] [--expect F]
  sink-gen.py chat --run 123 --count 1000 [--start 0] [--poison 3] [--expect F]

Ids are valid ULIDs ("01" + 6-digit run + 18-digit index), unique per run and index, so
several invocations with different --start values build one stream. Votes: every 10th
vote repeats the previous vote's voter (a duplicate voter, stored but not tallied), every
7th has no voter; polls alternate between the election (with attrs) and the band contest.
"""
import argparse
import json
import sys

CHOICES = ["UNE", "VAMOS", "SEMILLA", "VALOR"]
BANDS = ["los-volcanes", "ruta-sur", "quetzal-punk"]
USERS = ["alice", "bob", "carol", "dave"]


def vote(run, i):
    vid = "01%06d%018d" % (run, i)
    msg = {"v": 1, "kind": "vote", "id": vid}
    if i % 2 == 0:
        msg.update(poll="guatemala-2027", choice=CHOICES[i % 4],
                   attrs={"department": "Guatemala", "municipality": "Mixco" if i % 3 else "Villa Nueva",
                          "station": "0101-%03d" % (i % 5)})
    else:
        msg.update(poll="band-contest", choice=BANDS[i % 3], attrs={})
    dup = False
    if i % 7 != 3:  # some votes without voter
        base = i - 1 if i % 10 == 9 else i
        # a duplicate must hit the same poll: i-1 has the other parity, so use i-2 instead
        if i % 10 == 9:
            base = i - 2
            dup = (base % 7 != 3)
        msg["voter"] = "r%d-v%d" % (run, base)
    msg["received_at"] = 1763786400000 + i
    key = msg.get("voter", vid)
    return key, msg, dup


def chat(run, i):
    cid = "01%06d%018d" % (run, i)
    a, b = USERS[i % 4], USERS[(i + 1 + i // 4) % 4]
    if a == b:
        b = USERS[(i + 2) % 4]
    conv = ":".join(sorted([a, b]))
    msg = {"v": 1, "kind": "chat", "id": cid, "conversation": conv, "from": a, "to": b,
           "text": "m%d \u00e1 \"q\" {a,b} \\ NULL\ttab" % i, "received_at": 1763786400000 + i}
    return conv, msg


POISON = ['not json at all', '{"v":1,"kind":"vote"}', '{"v":2}', '[]']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["vote", "chat"])
    ap.add_argument("--run", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--poison", type=int, default=0)
    ap.add_argument("--expect")
    args = ap.parse_args()
    out = sys.stdout
    dups = 0
    every = args.count // (args.poison + 1) if args.poison else 0
    poison_left = args.poison
    for n in range(args.count):
        i = args.start + n
        if args.kind == "vote":
            key, msg, dup = vote(args.run, i)
            dups += dup
        else:
            key, msg = chat(args.run, i)
        out.write(key + "\t" + json.dumps(msg, separators=(",", ":"), ensure_ascii=False) + "\n")
        if poison_left and every and (n + 1) % every == 0:
            out.write("poison\t" + POISON[poison_left % len(POISON)] + "\n")
            poison_left -= 1
    if args.expect:
        with open(args.expect, "w") as f:
            f.write("N_VALID=%d\nN_DUP=%d\nN_POISON=%d\nN_TALLIED=%d\n"
                    % (args.count, dups, args.poison, args.count - dups))


if __name__ == "__main__":
    main()
