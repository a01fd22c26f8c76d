#!/usr/bin/env python3
"""Speed of `xbgen verify` on the default spec (a ring) and on the
handshake-only spec (target: well under 5 s and 30 s on two cores).

Prints, per spec and bound setting, the explored states and transitions, the
explorer's own time, the whole call (check + cached build + explore +
analysis) and states/s; medians over --runs.  The first call of each spec
compiles the model (cached afterwards) and is reported apart.

python3 benchmarks/bench_verify.py [--runs N] [--spec ring|handshake|both]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from xbgen.generate import generate
from xbgen.spec import default_spec
from xbgen.verify import Bounds, verify

#: Whole-call targets with the default bounds, per spec.
TARGET_S = {"handshake": 5.0, "ring": 30.0}
SETTINGS = {
    "default (env 2, hostile 1, faults 1)": Bounds(),
    "legal only (env 2)": Bounds(hostile=0, faults=0),
    "deeper (env 3, hostile 1, faults 1)": Bounds(env=3),
}
#: The ring's deeper setting runs for minutes: skipped unless asked for.
RING_SKIP = {"deeper (env 3, hostile 1, faults 1)"}


def bench(spec_name: str, tree: Path, runs: int, deep: bool) -> None:
    start = time.perf_counter()
    verify(tree, Bounds(env=0, hostile=0, faults=0))
    print(f"{spec_name}: first call (compiles the model unless cached): "
          f"{time.perf_counter() - start:.2f} s")  # fmt: skip
    for name, bounds in SETTINGS.items():
        if spec_name == "ring" and name in RING_SKIP and not deep:
            continue
        walls, explores = [], []
        for _ in range(runs):
            start = time.perf_counter()
            result = verify(tree, bounds)
            walls.append(time.perf_counter() - start)
            explores.append(result.seconds)
        wall = statistics.median(walls)
        explore = statistics.median(explores)
        print(
            f"  {name:<38} {result.states:>7} states {result.transitions:>8} transitions  "
            f"explore {explore:6.2f} s  whole {wall:6.2f} s  "
            f"{result.states / explore:>9,.0f} states/s"
        )
        if result.findings:
            print(f"    findings: {sorted(result.findings)} (README: known template bugs, races)")
        if bounds == Bounds():
            verdict = "meets" if wall < TARGET_S[spec_name] else "MISSES"
            print(f"    default: {verdict} the {TARGET_S[spec_name]:.0f} s target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--spec", choices=["ring", "handshake", "both"], default="both")
    parser.add_argument("--deep", action="store_true", help="also env 3 on the ring spec")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for spec_name, ring in (("ring", True), ("handshake", False)):
            if args.spec not in (spec_name, "both"):
                continue
            tree = generate(default_spec("mydevice", ring=ring), Path(tmp) / spec_name).tree
            bench(spec_name, tree, args.runs, args.deep)


if __name__ == "__main__":
    main()
