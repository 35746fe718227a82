#!/usr/bin/env python3
"""bench_section.py DOC NAME BODY_FILE: replace section NAME of DOC (docs/BENCHMARKS.md), the
lines between <!-- NAME:begin --> and <!-- NAME:end -->, with BODY_FILE; append it when absent."""
import re
import sys


def main():
    doc, name, body_file = sys.argv[1:]
    with open(doc) as f:
        text = f.read()
    with open(body_file) as f:
        body = f.read().rstrip() + "\n"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body}{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
