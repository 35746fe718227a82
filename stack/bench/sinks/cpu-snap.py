#!/usr/bin/env python3
"""cpu-snap.py - per-process / per-thread CPU accounting for the sink benchmark (sinks.sh).

  cpu-snap.py snap OUT LABEL=PID...     write the CPU ticks of those processes to OUT (JSON)
  cpu-snap.py diff A B [MESSAGES]       print CPU seconds spent between two snapshots
  cpu-snap.py brief A B MESSAGES        the same on one line, in microseconds per message
  cpu-snap.py per A B LABEL UNITS       LABEL's CPU in microseconds per unit, a bare number

Why: the drain rate alone does not say where a 2-core machine's time goes. Snapshots taken
at the start and the end of a timed phase give, per process (and per thread for the sink,
whose threads are named: main, sink-writer, chat-publisher, librdkafka's rdk:*), the CPU it
used in that phase, plus the machine's total busy time so that load from others shows as
"other". Label forms:
  LABEL=PID        the process, summed over its threads
  LABEL=PID/t      the process, one line per thread name (rdk:brokerN threads merged)
  LABEL=PID/pg     a postmaster: one line per child kind (backend, walwriter, checkpointer,
                   ...) plus the CPU of children that exited in between (its cutime/cstime)
  LABEL=PID/self   a shell: the CPU of its waited-for children (cutime/cstime), e.g. psql
Only /proc is read, so a snapshot costs a few milliseconds.
"""
import json
import os
import re
import sys

HZ = os.sysconf("SC_CLK_TCK")


def stat_fields(path):
    """Fields of a /proc stat file after the comm, 0-based from field 3 (state)."""
    with open(path) as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def task_ticks(pid):
    """{thread name: utime + stime ticks} of one process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            fl = stat_fields(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue  # the thread ended meanwhile
        name = "main" if tid == str(pid) else re.sub(r"^rdk:broker.*", "rdk:broker*", name)
        out[name] = out.get(name, 0) + int(fl[11]) + int(fl[12])
    return out


def proc_ticks(pid):
    fl = stat_fields(f"/proc/{pid}/stat")
    return int(fl[11]) + int(fl[12])


def children_ticks(pid):
    fl = stat_fields(f"/proc/{pid}/stat")
    return int(fl[13]) + int(fl[14])


def pg_ticks(postmaster):
    """Per kind of postmaster child; backends are told apart from the auxiliary processes by
    their title ("postgres: user db host(port) state")."""
    out = {"postmaster": proc_ticks(postmaster), "exited children": children_ticks(postmaster)}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if stat_fields(f"/proc/{pid}/stat")[1] != str(postmaster):
                continue
            with open(f"/proc/{pid}/cmdline") as f:
                title = f.read().replace("\0", " ").strip()
            t = proc_ticks(pid)
        except (OSError, IndexError):
            continue
        kind = title.split(":", 1)[1].strip() if ":" in title else title
        if re.search(r"\(\d+\)|\[local\]", kind):
            kind = "backend"
        elif kind.startswith("autovacuum worker"):
            kind = "autovacuum worker"
        out[kind] = out.get(kind, 0) + t
    return out


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # all but idle and iowait


def snap(out, specs):
    data = {"_machine": machine_busy()}
    for spec in specs:
        label, _, target = spec.partition("=")
        pid, _, mode = target.partition("/")
        try:
            if mode == "t":
                data[label] = task_ticks(pid)
            elif mode == "pg":
                data[label] = pg_ticks(pid)
            elif mode == "self":
                data[label] = {"children": children_ticks(pid)}
            else:
                data[label] = {"": proc_ticks(pid)}
        except OSError:
            data[label] = {}
    with open(out, "w") as f:
        json.dump(data, f)


def deltas(a_file, b_file):
    """[(label, total ticks, [(ticks, part)...])...] plus the machine's other busy ticks."""
    with open(a_file) as f:
        a = json.load(f)
    with open(b_file) as f:
        b = json.load(f)
    rows, known = [], 0
    for label, names in b.items():
        if label == "_machine":
            continue
        before = a.get(label, {})
        parts = sorted(((max(0, v - before.get(k, 0)), k) for k, v in names.items() if k), reverse=True)
        total = sum(max(0, v - before.get(k, 0)) for k, v in names.items())
        known += total
        rows.append((label, total, parts))
    return rows, max(0, (b["_machine"] - a["_machine"]) - known)


def diff(a_file, b_file, messages):
    rows, other = deltas(a_file, b_file)
    for label, total, parts in rows:
        detail = ", ".join(f"{k} {t / HZ:.2f}" for t, k in parts if t > 0)
        per = f" ({total / HZ * 1e6 / messages:.1f} us/msg)" if messages else ""
        print(f"  {label:10s} {total / HZ:6.2f} s{per}" + (f"  [{detail}]" if detail else ""))
    print(f"  {'other':10s} {other / HZ:6.2f} s  (machine busy time not in the rows above)")


def brief(a_file, b_file, messages):
    rows, other = deltas(a_file, b_file)
    us = lambda t: f"{t / HZ * 1e6 / messages:.1f}"
    out = []
    for label, total, parts in rows:
        if total == 0:
            continue
        main = [t for t, k in parts if k == "main"]
        out.append(f"{label} {us(total)}" + (f" (main thread {us(main[0])})" if main and len(parts) > 1 else ""))
    out.append(f"other {us(other)}")
    print(", ".join(out))


def per(a_file, b_file, label, units):
    rows, _ = deltas(a_file, b_file)
    total = sum(t for lab, t, _ in rows if lab == label)
    print(f"{total / HZ * 1e6 / units:.1f}")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "snap":
        snap(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "diff":
        diff(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) == 5 else 0)
    elif len(sys.argv) == 5 and sys.argv[1] == "brief":
        brief(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 6 and sys.argv[1] == "per":
        per(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
