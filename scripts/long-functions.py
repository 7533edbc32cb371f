#!/usr/bin/env python3
"""Lists C functions longer than a limit (default 100 lines), longest first; 1 if any.

ctest abi/long_functions runs it on src and python/src.

  scripts/long-functions.py [--limit N] [PATH ...]     (default: src python/src)

A function is a definition whose body opens with "{" alone at the start of a line and closes with
"}" at the start of a line, as clang-format (make format) lays out this project's code.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HEAD = re.compile(r"^[A-Za-z_][\w\s\*]*?\b(\w+)\s*\([^;]*$")


def functions(path: Path):
    lines = path.read_text(errors="replace").splitlines()
    i = 0
    while i < len(lines):
        if lines[i] == "{":
            # the signature: the nearest line above starting a definition
            j = i - 1
            while j >= 0 and not HEAD.match(lines[j]) and i - j < 8:
                j -= 1
            m = HEAD.match(lines[j]) if j >= 0 else None
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            if m:
                yield m.group(1), j + 1, k - j + 1
            i = k
        i += 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("paths", nargs="*", default=["src", "python/src"])
    args = ap.parse_args()
    found = []
    for p in args.paths:
        for f in sorted(Path(p).rglob("*.c")):
            for name, line, count in functions(f):
                if count > args.limit:
                    found.append((count, f"{f}:{line}", name))
    for count, where, name in sorted(found, reverse=True):
        print(f"{count:5d}  {where}  {name}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
