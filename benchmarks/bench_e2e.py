#!/usr/bin/env python3
"""Timings of `xbgen e2e` on the default spec (goal: spec -> both sides Connected
in under 60 s from a warm cache under TCG on a 2-core machine).

python3 benchmarks/bench_e2e.py [--runs N] [--no-guest] [--cycles N] [--accel auto|tcg|kvm]

The first run of a cold cache also downloads ~90 MB of Debian packages; run it
twice to see the warm figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from xbgen.e2e import E2EFailed, E2EResult, Scenario, run
from xbgen.generate import new

GOAL_S = 60.0
PHASES = ("download", "build", "initramfs", "boot", "to_first_connected", "to_guest_connected")


def one_run(args: argparse.Namespace) -> tuple[float, float, E2EResult]:
    """(spec -> both Connected, whole run, result), wall seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        new("mydevice", Path(tmp) / "out", spec_dir=Path(tmp))
        rendered = time.monotonic() - started
        scenario = Scenario(cycles=args.cycles, guest=args.guest)
        try:
            result = run(Path(tmp) / "out" / "mydevice", scenario, accel=args.accel)
        except E2EFailed as failed:
            result = failed.result
        whole = time.monotonic() - started
    t = result.timings
    key = "to_guest_connected" if args.guest else "to_first_connected"
    before_boot = rendered + t.get("download", 0) + t.get("build", 0) + t.get("initramfs", 0)
    return before_boot + t.get(key, float("nan")), whole, result


def line(i: int, connected: float, whole: float, result: E2EResult) -> str:
    t = result.timings
    phases = ", ".join(f"{p} {t[p]:.1f}s" for p in PHASES if p in t)
    hs = t.get("handshake_max", float("nan"))
    status = "PASS" if result.ok else f"FAIL ({result.failure})"
    return (
        f"run {i}: {status}: spec->both Connected {connected:.1f}s, whole run {whole:.1f}s, "
        f"qemu {t.get('qemu', 0):.1f}s, slowest handshake {hs:.2f}s [{phases}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--cycles", type=int, default=1)
    parser.add_argument("--no-guest", dest="guest", action="store_false")
    parser.add_argument("--accel", default="auto", choices=("auto", "tcg", "kvm"))
    args = parser.parse_args()
    connected: list[float] = []
    for i in range(1, args.runs + 1):
        to_connected, whole, result = one_run(args)
        print(line(i, to_connected, whole, result), flush=True)
        if result.ok:
            connected.append(to_connected)
    if not connected:
        raise SystemExit("no run passed")
    best = min(connected)
    verdict = "ok" if best < GOAL_S else "OVER GOAL"
    print(
        f"xbgen e2e: spec->both Connected best {best:.1f}s, median "
        f"{statistics.median(connected):.1f}s over {len(connected)} passing run(s) "
        f"(goal < {GOAL_S:.0f}s warm: {verdict})"
    )


if __name__ == "__main__":
    main()
