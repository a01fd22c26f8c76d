#!/usr/bin/env python3
"""The ring's data path on Xen in QEMU, against a vif's ping, in one boot.

python3 benchmarks/bench_ring.py [--requests N] [--pings N] [--tree DIR] [--accel auto|tcg|kvm]

Boots the e2e images (no stage 1 or 3) with a vif between dom0 (xen-netback)
and the guest (xen-netfront) besides the generated device, then:

- the frontend's debugfs self-test with 1 request in flight (round trips/s)
  and with a full ring (C = the ring's size: requests/s);
- `ping` from dom0 to the guest over the vif (ICMP through netfront/netback).

Goals: the ring's round trip against ping's, and a full ring at least 10x
the requests/s of one in flight.  Figures under TCG vary with the host's load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from xbgen.e2e import E2EFailed, E2EResult, Scenario, driver, run
from xbgen.e2e.report import SelfTest
from xbgen.generate import new

NAME = "mydevice"
GOAL_RATIO = 10.0


def _say(message: str) -> None:
    print(f"xbgen: {message}", file=sys.stderr, flush=True)


def bench(tree: Path, args: argparse.Namespace) -> tuple[E2EResult, int]:
    """One boot; returns the result and the ring's size."""
    located = driver.locate_tree(tree)
    ring = driver.detect_ring(located, driver.script_setting(located / "activate.sh", "type"))
    if ring is None or not ring.selftest:
        raise SystemExit(f"{tree} has no ring with a self-test")
    scenario = Scenario(
        orders=(),
        stage3=False,
        ring_cycles=0,
        requests=args.requests,
        depths=(1, ring.slots),
        pings=args.pings,
    )
    try:
        result = run(
            tree, scenario, accel=args.accel, keep_logs=args.keep_logs,
            progress=None if args.quiet else _say,
        )  # fmt: skip
    except E2EFailed as failed:
        result = failed.result
    return result, ring.slots


def describe(test: SelfTest) -> str:
    return (
        f"{test.per_s} requests/s, mean round trip {test.roundtrip_ns / 1000:.0f} us "
        f"({test.ok}/{test.requests} ok)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--pings", type=int, default=200)
    parser.add_argument("--tree", type=Path, help="a generated tree (default: xbgen new)")
    parser.add_argument("--accel", default="auto", choices=("auto", "tcg", "kvm"))
    parser.add_argument("--keep-logs", type=Path)
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tree = args.tree
        if tree is None:
            new(NAME, Path(tmp) / "out", spec_dir=Path(tmp))
            tree = Path(tmp) / "out" / NAME
        result, slots = bench(tree, args)
    if not result.ok:
        print(result.summary())
        raise SystemExit(f"the benchmark boot failed: {result.failure}")
    one = result.console.selftests["ring/selftest-1"]
    full = result.console.selftests[f"ring/selftest-{slots}"]
    ping = result.console.ping
    assert ping is not None
    ratio = full.per_s / max(one.per_s, 1)
    print(f"ring, 1 in flight:        {describe(one)}")
    print(f"ring, full ({slots} in flight): {describe(full)}")
    print(
        f"ping over a vif ({ping.count}): round trip min/avg/max "
        f"{ping.min_us}/{ping.avg_us}/{ping.max_us} us"
    )
    print(
        f"ring round trip / ping round trip: {one.roundtrip_ns / 1000:.0f} / {ping.avg_us} us "
        f"= {one.roundtrip_ns / 1000 / max(ping.avg_us, 1):.2f}"
    )
    verdict = "ok" if ratio >= GOAL_RATIO else "UNDER GOAL"
    print(
        f"full ring / 1 in flight: {ratio:.1f}x requests/s (goal >= {GOAL_RATIO:.0f}x: {verdict})"
    )
    print(f"serial log: {result.serial_log}")


if __name__ == "__main__":
    main()
