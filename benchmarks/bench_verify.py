#!/usr/bin/env python3
"""Speed of `xbgen verify` on the default spec (target: well under 5 s).

Prints, per bound setting, the explored states and transitions, the
explorer's own time, the whole call (check + cached build + explore +
analysis) and states/s; medians over --runs.  The first call compiles the
model (cached afterwards) and is reported apart.

python3 benchmarks/bench_verify.py [--runs N]
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

TARGET_S = 5.0
SETTINGS = {
    "default (env 2, hostile 1, faults 1)": Bounds(),
    "legal only (env 2)": Bounds(hostile=0, faults=0),
    "deeper (env 3, hostile 1, faults 1)": Bounds(env=3),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tree = generate(default_spec("mydevice"), Path(tmp)).tree
        start = time.perf_counter()
        verify(tree, Bounds(env=0, hostile=0, faults=0))
        print(f"first call (compiles the model unless cached): {time.perf_counter() - start:.2f} s")
        for name, bounds in SETTINGS.items():
            walls, explores = [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                result = verify(tree, bounds)
                walls.append(time.perf_counter() - start)
                explores.append(result.seconds)
                if bounds == Bounds():
                    assert result.ok, name
            wall = statistics.median(walls)
            explore = statistics.median(explores)
            print(
                f"{name:<38} {result.states:>7} states {result.transitions:>8} transitions  "
                f"explore {explore:5.2f} s  whole {wall:5.2f} s  "
                f"{result.states / explore:>9,.0f} states/s"
            )
            if result.findings:
                print(f"  findings: {sorted(result.findings)} (see README: a race in the core)")
            if bounds == Bounds():
                verdict = "meets" if wall < TARGET_S else "MISSES"
                print(f"  default: {verdict} the {TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
