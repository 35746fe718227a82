#!/usr/bin/env python3
"""summary.py - a short human summary of one headless Locust run: requests, requests/s,
p50/p95/p99 latency per endpoint and overall (from Locust's --csv files), and answers by
HTTP status per kind (from the locustfile's LOAD_RESULT_FILE counters).

  summary.py --csv DIR/stats --results DIR/results.json
"""
import argparse
import csv
import glob
import json
import os
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(description="Summarise a headless Locust run (see module docstring).")
    ap.add_argument("--csv", required=True, help="the --csv prefix given to locust (reads PREFIX_stats.csv, PREFIX_failures.csv)")
    ap.add_argument("--results", help="LOAD_RESULT_FILE of the run (its .w* siblings are read too)")
    a = ap.parse_args(argv)

    stats = a.csv + "_stats.csv"
    if not os.path.exists(stats):
        print("summary: %s not found" % stats, file=sys.stderr)
        return 2
    with open(stats, newline="") as f:
        rows = list(csv.DictReader(f))
    print("%-48s %9s %8s %8s %7s %7s %7s" % ("endpoint", "requests", "failed", "req/s", "p50ms", "p95ms", "p99ms"))
    for r in rows:
        name = r["Name"] if r["Name"] != "Aggregated" else "ALL"
        print("%-48s %9s %8s %8.1f %7s %7s %7s" % (
            name[:48], r["Request Count"], r["Failure Count"], float(r["Requests/s"] or 0),
            r["50%"], r["95%"], r["99%"]))

    fails = a.csv + "_failures.csv"
    if os.path.exists(fails):
        with open(fails, newline="") as f:
            frows = sorted(csv.DictReader(f), key=lambda r: -int(r["Occurrences"]))
        if frows:
            print("\nfailures (top 10):")
            for r in frows[:10]:
                print("  %6s  %s  %s" % (r["Occurrences"], r["Name"], r["Error"][:110]))

    if a.results:
        status = {}
        hostile = {"sent": 0, "as_expected": 0, "unexpected": 0, "accepted": 0}
        for fn in [a.results] + sorted(glob.glob(a.results + ".w*")):
            if not os.path.exists(fn) or fn.endswith(".tmp"):
                continue
            with open(fn) as f:
                d = json.load(f)
            for p, c in d.get("votes", {}).items():
                for k, v in c.get("status", {}).items():
                    status.setdefault("vote " + p, {}).setdefault(k, 0)
                    status["vote " + p][k] += v
            for k, v in d.get("chat", {}).get("status", {}).items():
                status.setdefault("chat", {}).setdefault(k, 0)
                status["chat"][k] += v
            for k in hostile:
                hostile[k] += d.get("hostile", {}).get(k, 0)
        print("\nanswers by status (0 = no HTTP answer):")
        for kind in sorted(status):
            print("  %-26s %s" % (kind, "  ".join("%s: %d" % (k, v) for k, v in sorted(status[kind].items()))))
        if hostile["sent"]:
            print("  %-26s sent %d, refused as expected %d, unexpected %d, accepted %d" % (
                "hostile", hostile["sent"], hostile["as_expected"], hostile["unexpected"], hostile["accepted"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
