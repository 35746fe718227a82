#!/usr/bin/env python3
"""redis-baseline.py - Redis protocol for the independent-client baseline of stack/bench/sinks/sinks.sh.

Writes to stdout, in RESP (for `redis-cli --pipe`), the same per-vote Redis writes the vote
sink's script makes for N votes (totals, count, 3 attribute hashes, voter_first, voters,
recent + one LTRIM per batch, one offsets HSET per batch), so the pipelined client and the
sink do the same work in the same batch sizes.
"""
import sys

n, batch, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = sys.stdout.buffer


def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))


base = prefix + "poll:guatemala-2027:"
for i in range(n):
    voter = "bench-v%d" % i
    cmd("HGET", base + "voter_first", voter)
    cmd("HSET", base + "voter_first", voter, "01BENCH%019d" % i)
    cmd("SADD", base + "voters", voter)
    cmd("HINCRBY", base + "totals", "UNE", 1)
    cmd("INCR", base + "count")
    cmd("HINCRBY", base + "attr:department", "Guatemala\tUNE", 1)
    cmd("HINCRBY", base + "attr:municipality", "Mixco\tUNE", 1)
    cmd("HINCRBY", base + "attr:station", "0101-%03d\tUNE" % (i % 500), 1)
    cmd("LPUSH", base + "recent", '{"v":1,"kind":"vote","id":"01BENCH%019d","poll":"guatemala-2027","choice":"UNE"}' % i)
    if i % batch == batch - 1:
        cmd("LTRIM", base + "recent", 0, 99)
        cmd("HSET", prefix + "sink:votes:offsets", "bench:0", i + 1)
