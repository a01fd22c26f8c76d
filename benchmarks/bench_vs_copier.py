#!/usr/bin/env python3
"""`xbgen new mydevice` against copier 9 rendering the same files, side by side.

Both run as separate processes (the console scripts on PATH) in fresh
folders, alternately, so machine load hits both alike.  copier gets the files
`xbgen new` writes, turned into a copier template (every "mydevice" becomes
``{{ name }}``), and renders them with no check; xbgen renders, runs its C
check (its findings cached by content: the dropped first round fills the
cache, as any first run does) and writes.  Goal: xbgen's median at most half
of copier's.

Measured on the 2-core development machine with QEMU running beside it, 31
runs each: xbgen 0.187 s, copier 0.983 s, ratio 0.19.  Before `new` stopped
importing typer, rich and pydantic, building pydantic's validators and loading
pycparser for a cached check: xbgen 0.570 s, copier 0.955 s, ratio 0.60.  The
load moves both medians by tens of percent from run to run; the ratio moves
less.

    python3 -m pip install 'copier>=9,<10'     # a benchmark-only dependency
    python3 benchmarks/bench_vs_copier.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

GOAL = 0.5


def make_template(root: Path, xbgen: str) -> int:
    """A copier template of what `xbgen new mydevice` writes; returns its file count."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([xbgen, "new", "mydevice"], cwd=tmp, check=True, capture_output=True)
        tree = Path(tmp) / "out" / "mydevice"
        files = [p for p in tree.rglob("*") if p.is_file()]
        for path in files:
            rel = str(path.relative_to(tree)).replace("mydevice", "{{ name }}")
            dest = root / "template" / f"{rel}.jinja"
            dest.parent.mkdir(parents=True, exist_ok=True)
            text = path.read_text(encoding="utf-8")
            # Keep the C and shell text literal except for the name.
            text = text.replace("{{", "{{ '{{' }}").replace("{%", "{{ '{%' }}")
            dest.write_text(text.replace("mydevice", "{{ name }}"), encoding="utf-8")
    (root / "copier.yml").write_text(
        "_subdirectory: template\n_templates_suffix: .jinja\nname:\n  type: str\n"
    )
    return len(files)


def time_once(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    xbgen, copier = shutil.which("xbgen"), shutil.which("copier")
    if xbgen is None:
        raise SystemExit("xbgen is not on PATH: pip install . first")
    if copier is None:
        raise SystemExit("copier is not on PATH: python3 -m pip install 'copier>=9,<10'")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        count = make_template(base / "tmpl", xbgen)
        runs: dict[str, list[float]] = {"xbgen": [], "copier": []}
        for index in range(args.runs + 1):  # the first round warms caches and is dropped
            work = base / f"run{index}"
            (work / "x").mkdir(parents=True)
            (work / "c").mkdir(parents=True)
            x = time_once([xbgen, "new", "mydevice"], work / "x")
            c = time_once(
                [copier, "copy", "--defaults", "--quiet", "--data", "name=mydevice",
                 "--vcs-ref", "HEAD", str(base / "tmpl"), str(work / "c" / "mydevice")],
                work,
            )  # fmt: skip
            if index:
                runs["xbgen"].append(x)
                runs["copier"].append(c)
            if not (work / "c" / "mydevice" / "include" / "mydevice_ring.h").is_file():
                raise SystemExit("copier did not render the template")
    mx, mc = statistics.median(runs["xbgen"]), statistics.median(runs["copier"])
    ratio = mx / mc
    verdict = "ok" if ratio <= GOAL else "OVER GOAL"
    print(f"files: {count}; runs: {args.runs}")
    print(f"xbgen new mydevice : median {mx:.3f} s (min {min(runs['xbgen']):.3f} s)")
    print(f"copier copy        : median {mc:.3f} s (min {min(runs['copier']):.3f} s)")
    print(f"ratio xbgen/copier : {ratio:.2f} (goal <= {GOAL}: {verdict})")


if __name__ == "__main__":
    main()
