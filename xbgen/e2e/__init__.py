"""``xbgen e2e``: boot Xen + Linux in QEMU and prove a generated driver connects.

:func:`run` downloads (or reuses) Xen and the Debian kernel, builds the tree's
modules against the exactly matching headers, packs a dom0 and a guest
initramfs, boots QEMU under a timeout and reads the verdict off the serial
console. It raises :class:`~xbgen.errors.E2EError` when anything failed; the
error carries the :class:`E2EResult` with the full report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xbgen import kernels
from xbgen.errors import E2EError, UsageError
from xbgen.kernels import KernelTree

from . import assets as assets_mod
from . import driver as driver_mod
from . import images, qemu, report
from .driver import Ring
from .report import Console

Progress = Callable[[str], None]
DEFAULT_RELEASE = assets_mod.DEFAULT_RELEASE


def release_of(name: str) -> str:
    """The Debian release ``name`` names: a release, or the kernel line it ships
    (the names ``xbgen build --kernel`` takes)."""
    by_line = {line: spec.release for line, spec in kernels.LINES.items()}
    if name in by_line.values():
        return name
    if name in by_line:
        return by_line[name]
    raise UsageError(
        f"unknown release {name!r}: use {', '.join(by_line.values())} "
        f"or the kernel line one ships ({', '.join(by_line)})"
    )


def line_of(release: str) -> str:
    """The kernel line Debian ``release`` ships (its headers: ``xbgen kernels``)."""
    return next(line for line, spec in kernels.LINES.items() if spec.release == release)


@dataclass
class E2EResult:
    """The outcome of one e2e run; ``ok`` is False when anything failed."""

    ok: bool
    failure: str | None
    console: Console
    serial_log: Path
    versions: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    last_lines: list[str] = field(default_factory=list)
    qemu_returncode: int | None = None

    def summary(self) -> str:
        return format_result(self)


class E2EFailed(E2EError):
    """The e2e run completed but something in it failed; ``result`` has the report."""

    def __init__(self, result: E2EResult) -> None:
        super().__init__(f"e2e FAILED: {result.failure} (serial log: {result.serial_log})")
        self.result = result


def _say(message: str) -> None:
    from xbgen.debian import stderr_progress

    stderr_progress(message)


def boot_timeout(scenario: images.Scenario, ring: Ring | None = None) -> float:
    """Generous wall-clock bound for one QEMU run under TCG (steps time out first)."""
    per_order = 2 * scenario.handshake_timeout + 20
    # stage 2 (boot, connect) and stage 3 (rebinds, second device, reload, destroy)
    guest = 10 * scenario.handshake_timeout + 200 if scenario.guest else 0
    if scenario.guest and ring is not None:
        # self-tests at each depth, then the connect/close cycles
        # (as dom0-init.sh's selftest_bound, and the guest's answer on top)
        tests = len(scenario.depths_for(ring)) * (scenario.requests / 50 + 90)
        guest += tests + scenario.ring_cycles * (scenario.handshake_timeout + 20)
    # each more guest (another release, a driver domain) boots and connects
    more = len(scenario.guest_releases) + scenario.driver_domain
    guest += more * (4 * scenario.handshake_timeout + 150) if scenario.guest else 0
    return 120 + scenario.cycles * len(scenario.orders) * per_order + guest


def run(
    tree_dir: Path,
    *,
    cycles: int = 1,
    guest: bool = True,
    accel: str = "auto",
    keep_logs: Path | None = None,
    progress: Progress | None = None,
    timeout: float | None = None,
    handshake_timeout: int = 30,
    requests: int = images.REQUESTS,
    ring_cycles: int = images.RING_CYCLES,
    raise_on_failure: bool = True,
    report_to: Progress | None = None,
    scenario: images.Scenario | None = None,
    release: str = DEFAULT_RELEASE,
    guest_releases: tuple[str, ...] = (),
    driver_domain: bool = False,
) -> E2EResult:
    """Run the e2e scenario on the generated driver tree ``tree_dir``.

    Raises :class:`E2EFailed` (an :class:`~xbgen.errors.E2EError`) when any step
    failed, unless ``raise_on_failure`` is False; ``timeout`` bounds the QEMU run
    (default: from the scenario), ``handshake_timeout`` each wait inside it.
    A tree with a ring runs ``requests`` self-test requests per depth and
    ``ring_cycles`` connect/close cycles.  ``scenario``, when given, replaces
    all those knobs.  ``release`` (or a kernel line, see :func:`release_of`)
    picks the Debian release whose Xen, kernel and headers dom0 and the guest
    run; ``guest_releases`` adds a guest of each of those releases, and
    ``driver_domain`` puts the backend in a PV guest of its own.  Progress
    lines go to ``progress``, the final report to ``report_to`` (both default
    to stderr).
    """
    if cycles < 1:
        raise UsageError("--cycles must be at least 1")
    if requests < 1:
        raise UsageError("--requests must be at least 1")
    if ring_cycles < 0:
        raise UsageError("--ring-cycles must not be negative")
    say = progress or _say
    release = release_of(release)
    others = tuple(dict.fromkeys(release_of(name) for name in guest_releases))
    if (others or driver_domain) and not guest:
        raise UsageError("--guest-release and --driver-domain need the guest stage (no --no-guest)")
    chosen = qemu.choose_accel(accel)
    scenario = scenario or images.Scenario(
        cycles=cycles,
        guest=guest,
        handshake_timeout=handshake_timeout,
        requests=requests,
        ring_cycles=ring_cycles,
        guest_releases=others,
        driver_domain=driver_domain,
    )
    timings: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="xbgen-e2e-"))
    try:
        result = _run_in(
            work, tree_dir, scenario, chosen, keep_logs, say, timings, timeout, release
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (report_to or say)(result.summary())
    if raise_on_failure and not result.ok:
        raise E2EFailed(result)
    return result


def cli_e2e(tree: Path, **options: Any) -> E2EResult:
    """`xbgen e2e`: progress on stderr, the report on stdout, E2EFailed on failure."""
    return run(tree, report_to=lambda text: print(text, flush=True), **options)


def _fetch(
    release: str, say: Progress, timings: dict[str, float], key: str = "download"
) -> tuple[KernelTree, assets_mod.Assets]:
    started = time.monotonic()
    tree = kernels.fetch(line_of(release), say)
    assets = assets_mod.fetch(tree.abi, say, release=release)
    timings[key] = time.monotonic() - started
    say(f"Debian {release}: Xen {assets.xen_version}, Linux {tree.abi}")
    for name, version in sorted(assets.versions.items()):
        say(f"using {name} {version}")
    say(f"using linux-headers-{tree.abi} {tree.version}")
    return tree, assets


def _run_in(
    work: Path,
    tree_dir: Path,
    scenario: images.Scenario,
    accel: str,
    keep_logs: Path | None,
    say: Progress,
    timings: dict[str, float],
    timeout: float | None,
    release: str,
) -> E2EResult:
    started = time.monotonic()
    kernel_tree, assets = _fetch(release, say, timings)
    say(f"building {tree_dir} against {kernel_tree.abi}")
    drv = driver_mod.prepare(tree_dir, kernel_tree, work)
    timings["build"] = drv.build_seconds
    if drv.backend_domid != 0 and scenario.guest and not scenario.driver_domain:
        say(f"backend_domid is {drv.backend_domid}: the backend runs in a driver domain")
        scenario = replace(scenario, driver_domain=True)
    others = _other_guests(work, tree_dir, scenario, say, timings)
    t0 = time.monotonic()
    guest_rd = None
    if scenario.guest:
        guest_rd = images.guest_image(assets, drv, scenario, work / "guest.cpio.gz")
    if scenario.driver_domain:
        backend_rd = images.guest_image(
            assets, drv, scenario, work / "backend.cpio.gz", role="backend"
        )
        others.append(images.GuestBoot("backend", assets.vmlinuz, backend_rd))
    initrd = images.dom0_image(
        assets, drv, scenario, work / "dom0.cpio.gz", guest_rd, tuple(others)
    )
    timings["initramfs"] = time.monotonic() - t0
    log_dir = keep_logs or _default_log_dir()
    serial = log_dir / f"serial-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    cmd = qemu.qemu_command(assets.xen, assets.vmlinuz, initrd, accel, cpus=scenario.cpus)
    limit = timeout or boot_timeout(scenario, drv.ring)
    say(f"booting Xen + Linux {assets.abi} under QEMU ({accel}, timeout {limit:.0f}s)")
    marks: dict[str, float] = {}
    boot = qemu.boot(cmd, serial, limit, on_line=_marker_clock(marks, say))
    timings.update(_boot_timings(boot, marks))
    timings["total"] = time.monotonic() - started
    return _result(boot, assets.versions, timings, kernel_tree)


def _other_guests(
    work: Path, tree_dir: Path, scenario: images.Scenario, say: Progress, timings: dict[str, float]
) -> list[images.GuestBoot]:
    """One guest per ``--guest-release``: that release's kernel, and the
    frontend built against its headers, in its own initramfs."""
    out = []
    for release in scenario.guest_releases:
        kernel_tree, assets = _fetch(release, say, timings, key=f"download_{release}")
        say(f"building {tree_dir} against {kernel_tree.abi} for the {release} guest")
        drv = driver_mod.prepare(tree_dir, kernel_tree, work / release)
        timings[f"build_{release}"] = drv.build_seconds
        initrd = images.guest_image(assets, drv, scenario, work / f"guest-{release}.cpio.gz")
        out.append(images.GuestBoot(f"guest-{release}", assets.vmlinuz, initrd))
    return out


def _default_log_dir(keep: int = 20) -> Path:
    """``<cache>/e2e/logs``, pruned to the newest ``keep`` serial logs."""
    folder = assets_mod.debian.cache_dir() / "e2e" / "logs"
    logs = sorted(folder.glob("serial-*.log"), key=lambda p: p.stat().st_mtime)
    for old in logs[: max(0, len(logs) - keep + 1)]:
        old.unlink(missing_ok=True)
    return folder


def _marker_clock(marks: dict[str, float], say: Progress) -> Callable[[str], None]:
    """Host-side timestamps of the console markers, and live progress."""
    origin = time.monotonic()

    def on_line(line: str) -> None:
        at = line.find("XBGEN-")
        if at < 0:
            return
        words = line[at:].split()
        elapsed = time.monotonic() - origin
        if words[0] == "XBGEN-BOOT":
            marks.setdefault("boot", elapsed)
        elif words[0] == "XBGEN-STEP" and len(words) > 2 and words[2] != "START":
            if words[1].endswith("/connect") and words[2] == "PASS":
                marks.setdefault("first_connected", elapsed)
                if words[1].startswith("stage2"):
                    marks.setdefault("guest_connected", elapsed)
            say(
                f"  {words[2]:<4} {words[1]}"
                + (f"  {' '.join(words[4:])}" if words[2] == "FAIL" else "")
            )

    return on_line


def _boot_timings(boot: qemu.BootResult, marks: dict[str, float]) -> dict[str, float]:
    out = {"qemu": boot.seconds}
    if "boot" in marks:
        out["boot"] = marks["boot"]
    if "first_connected" in marks:
        out["to_first_connected"] = marks["first_connected"]
    if "guest_connected" in marks:
        out["to_guest_connected"] = marks["guest_connected"]
    return out


def _result(
    boot: qemu.BootResult, versions: dict[str, str], timings: dict[str, float], kernel: KernelTree
) -> E2EResult:
    console = report.parse(boot.serial_log.read_text(errors="replace"))
    if console.handshakes:
        timings["handshake_max"] = max(console.handshakes.values())
    failure = report.verdict(console, timed_out=boot.timed_out, exit_pass=boot.exit_pass)
    all_versions = {**versions, f"linux-headers-{kernel.abi}": kernel.version}
    return E2EResult(
        ok=failure is None,
        failure=failure,
        console=console,
        serial_log=boot.serial_log,
        versions=all_versions,
        timings=timings,
        last_lines=report.last_lines(boot.serial_log) if failure else [],
        qemu_returncode=boot.returncode,
    )


def format_result(result: E2EResult) -> str:
    lines = ["xbgen e2e: " + ("PASS" if result.ok else "FAIL"), "steps:"]
    lines += report.format_steps(result.console)
    if result.console.selftests:
        lines += ["ring self-test:", *report.format_selftests(result.console)]
    if result.console.ping:
        ping = result.console.ping
        lines.append(
            f"ping over a vif, {ping.count} times: round trip min/avg/max "
            f"{ping.min_us}/{ping.avg_us}/{ping.max_us} us"
        )
    if result.console.counters:
        lines += ["counters:", *report.format_counters(result.console)]
    lines += ["state timeline (dom0 uptime):", *report.format_timeline(result.console)]
    lines.append("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    for name, secs in result.console.handshakes.items():
        lines.append(f"  handshake {name}: {secs:.2f}s")
    if result.failure:
        lines += [f"failure: {result.failure}", "last console lines:"]
        lines += [f"  {line}" for line in result.last_lines]
    lines.append(f"serial log: {result.serial_log}")
    return "\n".join(lines)
