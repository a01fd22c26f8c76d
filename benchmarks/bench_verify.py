#!/usr/bin/env python3
"""Speed of `xbgen verify` (issue 15: the default ring spec under 10 s on two
cores): the default spec (a ring) with the default bounds and with two calls
of the frontend (`Bounds(calls=2)`), and the handshake-only spec.

Prints, per spec and bound setting, the explored states and transitions, the
explorer's own time, the whole call (check + cached build + explore, the
output parsed as it comes + analysis), the CPU the explorer used (user +
system, steadier than wall time on a shared machine) and states/s; medians
over --runs.  The first call of each spec compiles the model (cached
afterwards) and is reported apart.

python3 benchmarks/bench_verify.py [--runs N] [--spec ring|handshake|both] [--more]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from xbgen.generate import generate
from xbgen.spec import default_spec
from xbgen.verify import Bounds, verify

#: Whole-call target with the default bounds, per spec (issue 15).
TARGET_S = {"handshake": 5.0, "ring": 10.0}
#: (spec, setting name, bounds); --more adds the others.
SETTINGS = [
    ("ring", "default (env 2, hostile 1, faults 1)", Bounds()),
    ("ring", "two calls (--calls 2)", Bounds(calls=2)),
    ("handshake", "default (env 2, hostile 1, faults 1)", Bounds()),
]
MORE = [
    ("ring", "legal only (env 2)", Bounds(hostile=0, faults=0)),
    ("handshake", "legal only (env 2)", Bounds(hostile=0, faults=0)),
    ("handshake", "deeper (env 3, hostile 1, faults 1)", Bounds(env=3)),
]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench(spec_name: str, tree: Path, settings: list[tuple[str, Bounds]], runs: int) -> None:
    start = time.perf_counter()
    verify(tree, Bounds(env=0, hostile=0, faults=0))
    print(f"{spec_name}: first call (compiles the model unless cached): "
          f"{time.perf_counter() - start:.2f} s")  # fmt: skip
    for name, bounds in settings:
        walls, explores, cpus = [], [], []
        for _ in range(runs):
            cpu = children_cpu()
            start = time.perf_counter()
            result = verify(tree, bounds)
            walls.append(time.perf_counter() - start)
            cpus.append(children_cpu() - cpu)
            explores.append(result.seconds)
        wall = statistics.median(walls)
        explore = statistics.median(explores)
        print(
            f"  {name:<38} {result.states:>8,} states {result.transitions:>9,} transitions  "
            f"explore {explore:6.2f} s ({statistics.median(cpus):6.2f} s CPU)  "
            f"whole {wall:6.2f} s  {result.states / explore:>9,.0f} states/s"
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
    parser.add_argument("--more", action="store_true", help="also legal-only and env 3")
    args = parser.parse_args()
    settings = SETTINGS + (MORE if args.more else [])
    with tempfile.TemporaryDirectory() as tmp:
        for spec_name, ring in (("ring", True), ("handshake", False)):
            if args.spec not in (spec_name, "both"):
                continue
            tree = generate(default_spec("mydevice", ring=ring), Path(tmp) / spec_name).tree
            mine = [(name, bounds) for spec, name, bounds in settings if spec == spec_name]
            bench(spec_name, tree, mine, args.runs)


if __name__ == "__main__":
    main()
