#!/usr/bin/env python3
"""chat-copy-csv.py RUN COUNT: the chat benchmark's baseline input on stdout, as CSV rows for
psql's \\copy into messages: the same COUNT messages t/integration/sink-gen.py produces for the
sink under test, with ids suffixed "B" so both sides can share a database."""
import csv
import json
import subprocess
import sys


def main():
    run, n = sys.argv[1], sys.argv[2]
    gen = subprocess.run([sys.executable, "t/integration/sink-gen.py", "chat", "--run", run, "--count", n],
                         capture_output=True, text=True, check=True).stdout
    w = csv.writer(sys.stdout)
    for line in gen.splitlines():
        m = json.loads(line.split("\t", 1)[1])
        w.writerow([m["id"] + "B", m["conversation"], m["from"], m["to"], m["text"], "2026-11-22 00:00:00+00"])


if __name__ == "__main__":
    main()
