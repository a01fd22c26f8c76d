#!/usr/bin/env python3
"""Median wall time of `xbgen new mydevice` as a separate process (target <= 0.3 s).

python3 benchmarks/bench_new.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

TARGET_S = 0.3


def one_run(xbgen: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([xbgen, "new", "mydevice"], cwd=tmp, check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        assert (Path(tmp) / "out/mydevice/frontend/mydevicefront_core.c").is_file()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    xbgen = shutil.which("xbgen")
    if xbgen is None:
        raise SystemExit("xbgen is not on PATH: pip install . first")
    one_run(xbgen)  # warm the page cache
    times = sorted(one_run(xbgen) for _ in range(args.runs))
    median = statistics.median(times)
    verdict = "ok" if median <= TARGET_S else "OVER TARGET"
    print(
        f"xbgen new mydevice: median {median:.3f} s, min {times[0]:.3f} s, "
        f"max {times[-1]:.3f} s over {args.runs} runs (target <= {TARGET_S} s: {verdict})"
    )


if __name__ == "__main__":
    main()
