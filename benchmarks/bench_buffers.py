#!/usr/bin/env python3
"""Our buffers beside xen-blkback, in one boot (issue 17's goal: at 64 KiB with a
full ring our MB/s at least blkback's).

python3 benchmarks/bench_buffers.py [--max 128KiB] [--transfer copy|map] [--mib 32] [--depth 32]
                                    [--keep-logs DIR]

One QEMU boot of Debian's Xen and kernel (the e2e's default release): dom0
runs the generated backend of a tree whose calls carry a buffer both ways
(``[ring.buffer]`` max, direction "both", by grant copy or, with
``--transfer map``, persistent grants), and Debian's
xen-blkback over a RAM disk (brd); the guest runs the tree's frontend and
Debian's xen-blkfront.  For 4 KiB, 64 KiB and the maximum, with 1 and with
``--depth`` requests in flight, the guest moves the same bytes each way
through both:

* ours: the frontend's self-test, each call carrying SIZE bytes to the
  backend and SIZE bytes back (the backend's handler writes its answer into
  the buffer);
* blk: O_DIRECT dd on /dev/xvdb, SIZE-byte blocks: the bytes written, then
  read back; ``--depth`` dd processes on disjoint parts of the disk at once.

MB/s counts both directions (bytes to dom0 plus bytes back, over the time
both took), 10^6 bytes.  Under QEMU's software emulation the absolute figures
are small; the ratio is what to read.  The script prints figures; it fails
only when the boot does.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from xbgen import kernels
from xbgen.e2e import Scenario, images, qemu, report
from xbgen.e2e import assets as assets_mod
from xbgen.e2e import driver as driver_mod
from xbgen.e2e.initramfs import overlay
from xbgen.generate import generate
from xbgen.spec import Spec, default_spec

HERE = Path(__file__).resolve().parent / "vsblk"
NAME = "mydevice"
KERNEL_LINE = "6.1"
GOAL_SIZE = 65536
_BLK = re.compile(
    r"XBGEN-BENCH blk size=(\d+) depth=(\d+) bytes=(\d+) write_cs=(\d+) read_cs=(\d+)"
)


@dataclass(frozen=True)
class Figure:
    size: int
    depth: int
    mbps: float  # both directions
    detail: str


def tree(work: Path, max_: str, transfer: str) -> Path:
    """The default spec with a buffer both ways of ``max_`` bytes at most."""
    spec = default_spec(NAME).model_dump(mode="json", exclude_none=True)
    spec["ring"]["buffer"] = {"max": max_, "direction": "both", "transfer": transfer}
    return generate(Spec.model_validate(spec), work / "out").tree


def conf(sizes: list[int], depth: int, mib: int) -> bytes:
    values = {"SIZES": " ".join(map(str, sizes)), "FULL_DEPTH": str(depth),
              "BYTES": str(mib << 20)}  # fmt: skip
    return "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()).encode()


def ours(console: report.Console, size: int, depth: int) -> Figure | None:
    test = console.selftests.get(f"bench/ours-{size}-{depth}")
    if test is None:
        return None
    # per_s (answered calls a second) is finer than the rounded MBps.
    mbps = test.per_s * 2 * size / 1e6
    detail = f"{test.ok}/{test.requests} calls ok, {test.bytes >> 20} MiB moved"
    return Figure(size, depth, mbps, detail)


def blk(text: str) -> dict[tuple[int, int], Figure]:
    found = {}
    for m in _BLK.finditer(text):
        size, depth, nbytes, write_cs, read_cs = map(int, m.groups())
        secs = (write_cs + read_cs) / 100
        mbps = 2 * nbytes / max(secs, 0.01) / 1e6
        w = nbytes / max(write_cs / 100, 0.01) / 1e6
        r = nbytes / max(read_cs / 100, 0.01) / 1e6
        found[size, depth] = Figure(size, depth, mbps, f"write {w:.1f} MB/s, read {r:.1f} MB/s")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max", default="128KiB", help="the buffer's maximum (blkfront: 128KiB)")
    parser.add_argument("--mib", type=int, default=32, help="MiB each way per run")
    parser.add_argument("--depth", type=int, default=32, help="requests in flight (full ring)")
    parser.add_argument(
        "--transfer", default="copy", choices=("copy", "map"), help="grant copy or persistent"
    )
    parser.add_argument("--keep-logs", type=Path)
    parser.add_argument("--accel", default="auto", choices=("auto", "tcg", "kvm"))
    args = parser.parse_args()

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="xbgen-bench-buffers-"))
    try:
        src = tree(work, args.max, args.transfer)
        kernel = kernels.fetch(KERNEL_LINE, say)
        assets = assets_mod.fetch(kernel.abi, say)
        missing = [rel for rel in assets_mod.BLOCK_MODULES if not assets.has_module(rel)]
        if missing:
            say(f"Debian's {assets.abi} lacks {', '.join(missing)} as modules: nothing to compare")
            return 2
        drv = driver_mod.prepare(src, kernel, work)
        assert drv.ring is not None
        top = drv.ring.buffer_max
        sizes = sorted({min(s, top) for s in (4096, GOAL_SIZE, top)})
        depth = min(args.depth, drv.ring.slots)
        settings = conf(sizes, depth, args.mib)
        scenario = Scenario()
        guest = overlay(
            images.guest_image(assets, drv, scenario, work / "guest-base.cpio.gz"),
            work / "guest.cpio.gz",
            {
                "/init": ((HERE / "guest-init.sh").read_bytes(), 0o755),
                "/lib/modules/xen-blkfront.ko": (
                    assets.kernel_module(assets_mod.BLKFRONT).read_bytes(),
                    0o644,
                ),
            },
        )
        dom0 = overlay(
            images.dom0_image(assets, drv, scenario, work / "dom0-base.cpio.gz", guest),
            work / "dom0.cpio.gz",
            {
                "/init": ((HERE / "dom0-init.sh").read_bytes(), 0o755),
                "/xbgen/bench.conf": (settings, 0o644),
                "/xbgen/blk-hotplug": ((HERE / "blk-hotplug").read_bytes(), 0o755),
                "/lib/modules/xen-blkback.ko": (
                    assets.kernel_module(assets_mod.BLKBACK).read_bytes(),
                    0o644,
                ),
                "/lib/modules/brd.ko": (assets.kernel_module(assets_mod.BRD).read_bytes(), 0o644),
            },
        )
        logs = args.keep_logs or assets_mod.debian.cache_dir() / "e2e" / "logs"
        serial = logs / f"bench-buffers-{time.strftime('%Y%m%d-%H%M%S')}.log"
        chosen = qemu.choose_accel(args.accel)
        cmd = qemu.qemu_command(assets.xen, assets.vmlinuz, dom0, chosen)
        runs = len(sizes) * 2
        limit = 600 + runs * 2 * (args.mib * 2 / 4 + 60)  # at 4 MB/s, each way, and slack
        say(f"booting Xen + Linux {assets.abi} ({chosen}, timeout {limit:.0f}s): sizes {sizes}, "
            f"depth 1 and {depth}, {args.mib} MiB each way per run")  # fmt: skip

        def live(line: str) -> None:
            at = line.find("XBGEN-STEP")
            if at >= 0 and " START " not in line:
                say("  " + line[at:].strip())

        boot = qemu.boot(cmd, serial, limit, on_line=live)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = serial.read_text(errors="replace")
    console = report.parse(text)
    failure = report.verdict(console, timed_out=boot.timed_out, exit_pass=boot.exit_pass)
    theirs = blk(text)
    how = "grant copy" if args.transfer == "copy" else "persistent grants"
    print(f"buffers of up to {args.max} both ways by {how} vs xen-blkback on a RAM disk "
          f"(Linux {assets.abi}, Xen {assets.xen_version}, {chosen}); MB/s both ways")  # fmt: skip
    print(f"{'size':>8} {'depth':>5} {'ours':>8} {'blkback':>8} {'ratio':>6}  detail")
    goal = None
    for size in sizes:
        for d in (1, depth):
            mine, blks = ours(console, size, d), theirs.get((size, d))
            ratio = mine.mbps / blks.mbps if mine and blks and blks.mbps else None
            if size == GOAL_SIZE and d == depth:
                goal = ratio
            print(
                f"{size:>8} {d:>5} {mine.mbps if mine else float('nan'):>8.1f} "
                f"{blks.mbps if blks else float('nan'):>8.1f} "
                f"{ratio if ratio is not None else float('nan'):>6.2f}  "
                f"ours: {mine.detail if mine else 'no figures'}; "
                f"blk: {blks.detail if blks else 'no figures'}"
            )
    if goal is not None:
        verdict = "met" if goal >= 1 else "NOT met"
        print(f"goal (64 KiB, {depth} in flight, ours >= blkback): {verdict}, ratio {goal:.2f}")
    print(f"qemu {boot.seconds:.0f}s, whole run {time.monotonic() - started:.0f}s; "
          f"serial log {serial}")  # fmt: skip
    if failure:
        print(f"run FAILED: {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
