#!/usr/bin/env python3
"""tally-equivalence.py - runs the vote sink's tally.lua and a reference script on the same
calls against a real Redis, each under its own key prefix, and prints every reply.

  tally-equivalence.py PORT SCRIPT PREFIX RUN [--recent-cap N]

The calls are what the sink sends: chunks of one partition's votes (two partitions, chunk
sizes 1 to 600 so the script's 500-value slices are crossed), then the replays the sink can
cause: whole chunks again (after a crash), and the same offsets cut into other chunks, so a
chunk is partly applied and partly fresh. Votes come from sink-gen.py (duplicate voters,
votes without voter, polls with and without attributes). The test compares the two runs'
replies and final keys.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("sink_gen", os.path.join(HERE, "sink-gen.py"))
sink_gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sink_gen)


def partition_votes(run, count):
    """Votes of two partitions in offset order: [(offset, key, msg, json)] per partition."""
    parts = {0: [], 1: []}
    for i in range(count):
        key, msg, _ = sink_gen.vote(run, i)
        p = i % 3 % 2  # uneven split, both partitions hold both polls
        parts[p].append((len(parts[p]), msg, json.dumps(msg, separators=(",", ":"))))
    return parts


def chunk_args(prefix, partition, votes, recent_cap):
    """ARGV of one script call, as vote_sink.c builds it."""
    next_offset = votes[-1][0] + 1
    args = [prefix, "votes:%d" % partition, str(next_offset), str(len(votes)), str(recent_cap)]
    for off, msg, raw in votes:
        attrs = msg.get("attrs", {})
        args += [str(off), msg["id"], msg["poll"], msg["choice"], msg.get("voter", ""), raw,
                 str(len(attrs))]
        for name, value in attrs.items():
            args += [name, value]
    return args


def calls(parts):
    """(partition, [votes]) in the order the sink could send them, replays included."""
    sizes = [1, 40, 600, 7, 250, 3]
    out = []
    for p, votes in parts.items():
        i, k = 0, 0
        while i < len(votes) * 2 // 3:       # the first pass stops short of the end
            n = min(sizes[k % len(sizes)], len(votes) * 2 // 3 - i)
            out.append((p, votes[i:i + n]))
            i += n
            k += 1
    firsts = list(out)
    out += firsts[:3]                         # crash replay: chunks again, all applied
    for p, votes in parts.items():            # re-chunked: applied, partly applied, fresh
        out += [(p, votes[j:j + 333]) for j in range(0, len(votes), 333)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port")
    ap.add_argument("script")
    ap.add_argument("prefix")
    ap.add_argument("run", type=int)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--recent-cap", type=int, default=100)
    a = ap.parse_args()
    body = open(a.script).read()
    parts = partition_votes(a.run, a.count)
    for p, votes in calls(parts):
        args = chunk_args(a.prefix, p, votes, a.recent_cap)
        r = subprocess.run(["redis-cli", "-p", a.port, "EVAL", body, "1", a.prefix + "offsets"] + args,
                           capture_output=True, text=True, check=True)
        if r.stdout.startswith("ERR") or r.stderr.strip():
            sys.exit("script error: " + r.stdout[:300])
        print("call p%d offsets %d-%d: %s" % (p, votes[0][0], votes[-1][0], r.stdout.replace("\n", " ")))


if __name__ == "__main__":
    main()
