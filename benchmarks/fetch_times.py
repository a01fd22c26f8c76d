"""Time provisioning of every kernel line (and checkpatch.pl) from the current cache.

Run with an empty cache to measure a fresh CI machine:
    XDG_CACHE_HOME=$(mktemp -d) python3 benchmarks/fetch_times.py [--serial]
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor

from xbgen import checkpatch, kernels


def timed(label: str, func) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    func()
    return label, time.monotonic() - started


def main() -> None:
    jobs = [(f"kernel {line}", lambda line=line: kernels.fetch(line)) for line in kernels.LINES]
    jobs.append(("checkpatch.pl", checkpatch.fetch))
    started = time.monotonic()
    workers = 1 if "--serial" in sys.argv else len(jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda job: timed(*job), jobs))
    for label, seconds in results:
        print(f"{label:16} {seconds:7.1f} s")
    print(f"{'total (wall)':16} {time.monotonic() - started:7.1f} s")


if __name__ == "__main__":
    main()
