#!/usr/bin/env python3
"""Fails if the code's floors are broken: an arrow from a lower floor to a higher one, or a
circle of files (docs/architecture.md, "One core, thin faces").

  scripts/check-layers.py [--root DIR] [--build DIR] [--quiet]

An arrow from file A to file B is A including B (#include "...") or A calling a function B
defines: the calls come from the object files of a build (nm: what each object leaves undefined
against what another defines), so a call through a macro or a header's inline function counts
too. Each file sits on the floor of its folder (FLOORS below, the one place the order is
declared); a public header include/zeus/X.h sits on the floor of the component it belongs to
(HEADERS). A file on no floor (a folder of src/ missing from FLOORS, a public header missing
from HEADERS) is an error too, so that no arrow is skipped unseen. Without --build only the
includes are checked.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

# The floors, lowest first: a file may use its own floor and the floors below it. One floor may
# hold several folders that do not use one another. The faces (executables and the Python
# extension over the public API) are the top floor.
FLOORS: list[tuple[str, list[str]]] = [
    ("core", ["src/core"]),
    ("device", ["src/device"]),
    ("monitor", ["src/monitor"]),
    ("metric", ["src/metric"]),
    ("power_limit", ["src/power_limit"]),
    ("batch_size", ["src/batch_size", "src/pipeline_frequency"]),
    ("simulate", ["src/simulate"]),
    ("httpd", ["src/httpd"]),  # what the HTTP faces share (not libzeus)
    ("faces", ["src/cli", "src/zeusd", "src/exporter", "src/bso", "src/pfo", "python/src"]),
]

# Public headers (include/zeus/NAME.h) -> the floor whose component they declare.
HEADERS = {
    "common": "core", "util": "core", "output": "core", "rng": "core", "cost": "core",
    "version": "core", "device": "device", "sim": "device", "soc": "device",
    "zeusd_client": "device", "monitor": "monitor", "sampler": "monitor", "plot": "monitor",
    "job_window": "monitor", "metric": "metric", "carbon_api": "metric",
    "power_limit": "power_limit", "lease": "power_limit",
    # The carbon-aware selector (src/power_limit/carbon.c) over zeus/power_limit.h; the
    # ElectricityMaps client below it (src/metric/carbon_api.c) is zeus/carbon_api.h.
    "carbon": "power_limit", "batch_size": "batch_size", "recurring": "batch_size",
    "simulate": "simulate", "pipeline_frequency": "batch_size", "zeus": "faces",
}

SOURCE_SUFFIXES = (".c", ".h")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def floor_index() -> dict[str, int]:
    return {name: i for i, (name, _) in enumerate(FLOORS)}


def floor_of(path: str) -> str | None:
    if path.startswith("include/zeus/"):
        return HEADERS.get(Path(path).stem)
    for name, folders in FLOORS:
        if any(path.startswith(f + "/") for f in folders):
            return name
    return None


# Where the checked files live: every file under them must sit on a floor.
TREES = ["src", "python/src", "include/zeus"]


def source_files(root: Path) -> list[str]:
    out = []
    for folder in TREES:
        base = root / folder
        if not base.is_dir():
            continue
        for dirpath, _, names in os.walk(base):
            for n in names:
                if n.endswith(SOURCE_SUFFIXES):
                    out.append(str((Path(dirpath) / n).relative_to(root)))
    return sorted(out)


def include_edges(root: Path, files: list[str]) -> set[tuple[str, str, str]]:
    """(from, to, why) for every #include "..." that names a file of the tree."""
    known = set(files)
    edges = set()
    for f in files:
        text = (root / f).read_text(errors="replace")
        for inc in INCLUDE.findall(text):
            for cand in (str(Path(f).parent / inc), "src/" + inc, "include/" + inc):
                cand = os.path.normpath(cand)
                if cand in known:
                    if cand != f:
                        edges.add((f, cand, f"includes {inc}"))
                    break
    return edges


def object_files(build: Path, root: Path, files: set[str]) -> dict[str, Path]:
    """Source file (relative to root) -> one object file compiled from it."""
    out: dict[str, Path] = {}
    for dirpath, _, names in os.walk(build):
        for n in names:
            if not n.endswith((".c.o", ".o")):
                continue
            obj = Path(dirpath) / n
            # CMake: .../CMakeFiles/<target>.dir/<path relative to the source dir>.c.o; the
            # fakes' targets compile sources through ../../ (the __ folders).
            rel = str(obj).split(".dir/", 1)[-1] if ".dir/" in str(obj) else n
            rel = rel.replace("__/", "")
            rel = rel[:-2] if rel.endswith(".o") else rel
            for cand in (rel, "python/" + rel):
                if cand in files and cand not in out:
                    out[cand] = obj
    return out


def nm(objects: dict[str, Path]) -> dict[str, tuple[set[str], set[str]]]:
    """Source -> (symbols its object defines, symbols it leaves undefined), one nm for all."""
    by_obj = {str(obj): src for src, obj in objects.items()}
    r = subprocess.run(["nm", "-P", "-A", *by_obj], capture_output=True, text=True, check=True)
    out = {src: (set(), set()) for src in objects}
    for line in r.stdout.splitlines():
        head, _, rest = line.partition(": ")
        parts = rest.split()
        if head not in by_obj or len(parts) < 2:
            continue
        defined, undefined = out[by_obj[head]]
        name, kind = parts[0], parts[1]
        if kind in "TDBR":
            defined.add(name)
        elif kind == "U":
            undefined.add(name)
    return out


def call_edges(objects: dict[str, Path]) -> set[tuple[str, str, str]]:
    syms = nm(objects)
    definer: dict[str, str] = {}
    for src, (defined, _) in syms.items():
        for s in defined:
            # A symbol defined by several files (each face's main): not a call between them.
            definer[s] = src if s not in definer else ""
    edges = set()
    for src, (_, undefined) in syms.items():
        for s in undefined:
            to = definer.get(s)
            if to and to != src:
                edges.add((src, to, f"calls {s}"))
    return edges


def find_circle(nodes: list[str], adj: dict[str, list[str]]) -> list[str] | None:
    """One circle of the graph (a list of files, the first repeated at the end), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = {n: WHITE for n in nodes}
    sys.setrecursionlimit(10000)
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        color[n] = GREY
        stack.append(n)
        for m in adj.get(n, []):
            if color.get(m, BLACK) == GREY:
                return stack[stack.index(m):] + [m]
            if color.get(m) == WHITE:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        color[n] = BLACK
        return None

    for n in nodes:
        if color[n] == WHITE:
            c = visit(n)
            if c:
                return c
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1]))
    ap.add_argument("--build", help="a build folder (object files) for the call arrows")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    root = Path(args.root).resolve()
    files = source_files(root)
    edges = include_edges(root, files)
    if args.build:
        objects = object_files(Path(args.build).resolve(), root, set(files))
        if not objects:
            print(f"check-layers: no object files of {root} under {args.build}", file=sys.stderr)
            return 2
        edges |= call_edges(objects)
    rank = floor_index()
    bad = 0
    for f in files:
        if floor_of(f) is None:
            where = "HEADERS" if f.startswith("include/") else "FLOORS"
            print(f"{f} is on no floor: add it to {where} in scripts/check-layers.py")
            bad += 1
    for a, b, why in sorted(edges):
        fa, fb = floor_of(a), floor_of(b)
        if fa is not None and fb is not None and rank[fb] > rank[fa]:
            print(f"{a} ({fa}) {why} from {b} ({fb}): a lower floor uses a higher one")
            bad += 1
    adj: dict[str, list[str]] = {}
    for a, b, _ in edges:
        adj.setdefault(a, []).append(b)
    for v in adj.values():
        v.sort()
    circle = find_circle(files, adj)
    if circle:
        why = {(a, b): w for a, b, w in edges}
        steps = " -> ".join(f"{a} [{why[(a, b)]}]" for a, b in zip(circle, circle[1:]))
        print(f"a circle of files: {steps} -> {circle[-1]}")
        bad += 1
    if bad:
        print("check-layers: the floors are broken (see above; floors in scripts/check-layers.py)",
              file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"check-layers: {len(files)} files, {len(edges)} arrows, all downward or level, "
              "no circle")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
