"""Time one W=1 build of the default spec per kernel line, sparse on 6.1 and checkpatch.

python3 benchmarks/build_times.py          # trees are fetched first if missing
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from xbgen import build, checkpatch, kernels
from xbgen.generate import generate
from xbgen.spec import Spec


def timed(label: str, func) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    outcome = "ok"
    try:
        func()
    except build.BuildFailedError as exc:
        outcome = "FAILED: " + str(exc).splitlines()[-1]
    print(f"{label:22} {time.monotonic() - started:6.1f} s  {outcome}", flush=True)


def main() -> None:
    trees = kernels.fetch_many(list(kernels.LINES))
    with tempfile.TemporaryDirectory() as scratch:
        source = generate(Spec(name="bench"), out=Path(scratch) / "src").tree
        for line, tree in trees.items():
            copy = Path(scratch) / line
            shutil.copytree(source, copy)
            timed(f"build W=1 {line}", lambda c=copy, t=tree: build.build_modules(
                c, t, extra_make_args=["W=1"], clean=False))  # fmt: skip
        timed("build W=1 C=2 6.1", lambda: build.build_modules(
            Path(scratch) / "6.1", trees["6.1"], extra_make_args=["W=1", "C=2"]))  # fmt: skip
        timed("checkpatch both .c", lambda: checkpatch.run(sorted(source.glob("*/*.c")), source))


if __name__ == "__main__":
    main()
