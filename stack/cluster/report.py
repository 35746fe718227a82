#!/usr/bin/env python3
"""report.py - the figures of one cluster-test scenario, and the table of a whole run.

  report.py scenario --name N --run DIR --since T --fault-start T --heal T [--rejoin S]
                     --table FILE EDGE_ACCESS_LOG...
  report.py table FILE

scenario: reads the load run's answers (DIR/results.json and its .w* siblings, written by
locust/locustfile.py) and the audit's figures (DIR/audit.json, locust/audit.py --json), and the
edges' access logs (the cluster's edges stamp them in milliseconds) for the write answers after
T; prints one line and appends it as JSON to FILE. Exit 0 for PASS: the audit passed, 0 lost,
0 double, and no answer other than 202, 503 or none (a connection cut with its host).

  202s, 503s, none   the clients' answers to POST /api/votes and /api/chat/messages
  unknown            of the 503s and none, those whose record may be stored all the same (503
                     ack_timeout, no answer): the audit lets the stores hold that many more
  stored             the run's MongoDB documents + PostgreSQL rows
  lost               202 answers whose id is in no store
  double             Redis tallies beyond the stored documents (a vote counted twice)
  errors             the edges' first and last write answer other than 202 (and 499, a client
                     that had given up), in seconds after the fault
  recovered          seconds from the heal to the last non-202 write answer (0: none after it)
  p95, p99           the whole run's response times (every request, Locust's DIR/stats_stats.csv)
"""
import argparse
import csv
import glob
import json
import os
import re
import sys

LINE = re.compile(r'\[(\d+\.\d+)\] "POST (/api/votes|/api/chat/messages)[ ?][^"]*" (\d{3}) ')


def answers(run):
    st = {}
    for fn in [os.path.join(run, "results.json")] + sorted(glob.glob(os.path.join(run, "results.json.w*"))):
        if not os.path.exists(fn) or fn.endswith(".tmp"):
            continue
        with open(fn) as f:
            d = json.load(f)
        groups = [c.get("status", {}) for c in d.get("votes", {}).values()] + [d.get("chat", {}).get("status", {})]
        for g in groups:
            for k, v in g.items():
                st[k] = st.get(k, 0) + v
    return st


def percentiles(run):
    try:
        with open(os.path.join(run, "stats_stats.csv"), newline="") as f:
            for r in csv.DictReader(f):
                if r["Name"] == "Aggregated":
                    return int(float(r["95%"])), int(float(r["99%"]))
    except (OSError, KeyError, ValueError):
        pass
    return None, None


def error_times(logs, since):
    out = []
    for fn in logs:
        if not os.path.exists(fn):
            continue
        with open(fn, errors="replace") as f:
            for line in f:
                m = LINE.search(line)
                # 499: the client had gone (its own timeout), nginx logs it when it notices
                if m and float(m.group(1)) >= since and m.group(3) not in ("202", "499"):
                    out.append(float(m.group(1)))
    return sorted(out)


def scenario(a):
    st = answers(a.run)
    try:
        with open(os.path.join(a.run, "audit.json")) as f:
            au = json.load(f)
    except (OSError, ValueError):
        au = {"pass": False, "polls": {}, "chat": {}, "failures": ["no audit figures"]}
    n202, n503, none = st.get("202", 0), st.get("503", 0), st.get("0", 0)
    unknown = sum(p.get("unknown") or 0 for p in au.get("polls", {}).values()) + (au.get("chat", {}).get("unknown") or 0)
    other = {k: v for k, v in st.items() if k not in ("202", "503", "0")}
    polls = au.get("polls", {}).values()
    chat = au.get("chat", {})
    lost_parts = [p.get("lost") for p in polls] + [chat.get("lost")]
    lost = None if any(x is None for x in lost_parts) else sum(lost_parts)
    stored = sum(p.get("mongo") or 0 for p in polls) + (chat.get("pg_rows") or 0)
    double = sum(max(0, (p.get("redis_sum") or 0) + (p.get("redis_dupes") or 0) - (p.get("mongo") or 0))
                 for p in polls)
    errs = error_times(a.logs, a.since)
    p95, p99 = percentiles(a.run)
    row = {
        "scenario": a.name, "202s": n202, "503s": n503, "none": none, "unknown": unknown, "other": other,
        "stored": stored, "lost": lost, "double": double,
        "errors_from": round(errs[0] - a.fault_start, 1) if errs else None,
        "errors_to": round(errs[-1] - a.fault_start, 1) if errs else None,
        "recovered": round(max(0.0, errs[-1] - a.heal), 1) if errs else 0.0,
        "fault_s": round(a.heal - a.fault_start, 1), "rejoin": a.rejoin, "p95": p95, "p99": p99,
        "audit": "PASS" if au.get("pass") else "FAIL",
    }
    row["verdict"] = "PASS" if (au.get("pass") and lost == 0 and double == 0 and not other) else "FAIL"
    with open(a.table, "a") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")
    print("    %s: %s  202s %d  503s %d  no answer %d  outcome unknown %d%s  stored %d  lost %s  double %d  "
          "errors %s  recovered %.1f s after the heal%s  p95/p99 %s/%s ms  (audit %s)" % (
              a.name, row["verdict"], n202, n503, none, unknown,
              "  other %s" % other if other else "", stored, "?" if lost is None else lost, double,
              "%s..%s s after the fault" % (row["errors_from"], row["errors_to"]) if errs else "none",
              row["recovered"], "  ISR full %.1f s after the heal" % a.rejoin if a.rejoin is not None else "",
              p95, p99, row["audit"]))
    for fl in au.get("failures", [])[:5]:
        print("      audit: %s" % fl)
    return 0 if row["verdict"] == "PASS" else 1


def table(a):
    rows = []
    with open(a.file) as f:
        rows = [json.loads(x) for x in f if x.strip()]
    print("%-17s %7s %6s %6s %7s %8s %5s %6s %7s %14s %10s %11s %8s" % (
        "scenario", "202s", "503s", "none", "unknown", "stored", "lost", "double", "fault s", "errors (s)",
        "recovered", "p95/p99 ms", "verdict"))
    for r in rows:
        errs = "%s..%s" % (r["errors_from"], r["errors_to"]) if r["errors_from"] is not None else "-"
        print("%-17s %7d %6d %6d %7d %8d %5s %6d %7.1f %14s %9.1fs %11s %8s" % (
            r["scenario"], r["202s"], r["503s"], r["none"], r.get("unknown", 0), r["stored"],
            "?" if r["lost"] is None else r["lost"], r["double"], r["fault_s"], errs, r["recovered"],
            "%s/%s" % (r.get("p95"), r.get("p99")), r["verdict"]))
    return 0 if rows and all(r["verdict"] == "PASS" for r in rows) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scenario")
    s.add_argument("--name", required=True)
    s.add_argument("--run", required=True)
    s.add_argument("--since", type=float, required=True)
    s.add_argument("--fault-start", type=float, required=True)
    s.add_argument("--heal", type=float, required=True)
    s.add_argument("--rejoin", type=float)
    s.add_argument("--table", required=True)
    s.add_argument("logs", nargs="*")
    t = sub.add_parser("table")
    t.add_argument("file")
    a = ap.parse_args()
    return scenario(a) if a.cmd == "scenario" else table(a)


if __name__ == "__main__":
    sys.exit(main())
