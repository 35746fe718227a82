"""plot_edge.py: draws bench edge's rate-against-latency chart (p50 and p99 per subject) as a PNG.

Usage: plot_edge.py CURVE.tsv OUT.png, where CURVE.tsv has the columns
subject, fraction, achieved, p50_ms, p99_ms, errors (written by stack/lib/bench_edge.sh).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

LABELS = {
    "return": "nginx return 202",
    "local": "module, queued",
    "broker": "module, acked (acks=all)",
}


def main(tsv, png):
    points = {}
    with open(tsv) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            points.setdefault(row["subject"], []).append(
                (float(row["achieved"]), float(row["p50_ms"]), float(row["p99_ms"])))
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    for subject, rows in points.items():
        rows.sort()
        rate = [r[0] / 1000 for r in rows]
        line, = ax.plot(rate, [r[2] for r in rows], marker="o", label=f"{LABELS.get(subject, subject)} p99")
        ax.plot(rate, [r[1] for r in rows], marker=".", linestyle="--", color=line.get_color(),
                label=f"{LABELS.get(subject, subject)} p50")
    ax.set_xlabel("achieved rate (thousand requests/s, paced wrk, 128 connections)")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("./build.sh bench edge: latency against offered rate")
    fig.tight_layout()
    fig.savefig(png)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
