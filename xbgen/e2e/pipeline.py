"""One e2e run from end to end: fetch the release's Xen and kernel, build the
tree's modules against its headers, pack the initramfs images, boot QEMU,
read the result.  Each step is another module's job; this one orders them."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from xbgen import kernels
from xbgen.kernels import KernelTree

from . import assets as assets_mod
from . import driver as driver_mod
from . import images, live, qemu
from .live import Progress
from .result import E2EFailed, E2EResult, from_boot
from .scenario import Scenario, line_of


def _quiet(_message: str) -> None:
    pass


def run(
    tree_dir: Path,
    scenario: Scenario | None = None,
    *,
    accel: str = "auto",
    keep_logs: Path | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> E2EResult:
    """Run ``scenario`` (default: :class:`Scenario`'s defaults) on the
    generated driver tree ``tree_dir`` and return its result.

    Raises :class:`~xbgen.errors.UsageError` for a scenario that cannot run
    (before any work) and :class:`E2EFailed` (an :class:`~xbgen.errors.E2EError`,
    carrying the result) when any step failed.  ``accel`` is QEMU's
    (:func:`xbgen.e2e.qemu.choose_accel`), ``keep_logs`` the folder for the
    serial log (default ``<cache>/e2e/logs``), ``timeout`` bounds the QEMU run
    (default: from the scenario).  Progress lines, if wanted, go to ``progress``.
    """
    scenario = (scenario or Scenario()).checked()
    chosen = qemu.accel_for(scenario.arch, accel)
    say = progress or _quiet
    timings: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="xbgen-e2e-"))
    try:
        started = time.monotonic()
        kernel_tree, assets = _fetch(scenario.release, say, timings, arch=scenario.arch)
        say(f"building {tree_dir} against {kernel_tree.abi}")
        drv = driver_mod.prepare(tree_dir, kernel_tree, work)
        timings["build"] = drv.build_seconds
        if drv.backend_domid != 0 and scenario.guest and not scenario.driver_domain:
            say(f"backend_domid is {drv.backend_domid}: the backend runs in a driver domain")
            scenario = replace(scenario, driver_domain=True)
        if (
            scenario.runs_lifecycle
            and scenario.saves_work
            and scenario.migrations
            and not assets.can_migrate(scenario.guest_type)
        ):
            say(f"lifecycle/localmigrate: not run: Xen {assets.xen_version} is built without "
                "shadow paging (CONFIG_SHADOW_PAGING), which live migration of a PV guest "
                "needs (log-dirty mode)")  # fmt: skip
        if scenario.runs_lifecycle and not scenario.saves_work:
            say("lifecycle: save/restore, checkpoint and migration not run: Xen on Arm has "
                "none of them (libxl); the reboot and shutdown are")  # fmt: skip
        if scenario.runs_lifecycle and scenario.saves_work and not assets.survives_checkpoint():
            say(f"lifecycle/checkpoint: not run: under Xen {assets.xen_version} this "
                "release's Linux guest BUG()s in its own resume after xl save -c "
                "(evtchn_fifo_resume), before any driver's")  # fmt: skip
        initrd = _images(work, tree_dir, scenario, assets, drv, say, timings)
        boot = _boot(scenario, assets, drv, initrd, chosen, keep_logs, timeout, say, timings)
        timings["total"] = time.monotonic() - started
        result = from_boot(boot, assets.versions, timings, kernel_tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not result.ok:
        raise E2EFailed(result)
    return result


def _fetch(
    release: str,
    say: Progress,
    timings: dict[str, float],
    key: str = "download",
    arch: str = assets_mod.DEFAULT_ARCH,
) -> tuple[KernelTree, assets_mod.Assets]:
    started = time.monotonic()
    tree = kernels.fetch(line_of(release), say, arch=arch)
    assets = assets_mod.fetch(tree.abi, say, release=release)
    timings[key] = time.monotonic() - started
    say(f"Debian {release} ({assets.arch}): Xen {assets.xen_version}, Linux {tree.abi}")
    for name, version in sorted(assets.versions.items()):
        say(f"using {name} {version}")
    say(f"using linux-headers-{tree.abi} {tree.version}")
    return tree, assets


def _images(
    work: Path,
    tree_dir: Path,
    scenario: Scenario,
    assets: assets_mod.Assets,
    drv: driver_mod.Driver,
    say: Progress,
    timings: dict[str, float],
) -> Path:
    """dom0's initramfs, with every guest's kernel and initramfs inside."""
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
    return initrd


def _other_guests(
    work: Path, tree_dir: Path, scenario: Scenario, say: Progress, timings: dict[str, float]
) -> list[images.GuestBoot]:
    """One guest per ``guest_releases``: that release's kernel, and the
    frontend built against its headers, in its own initramfs."""
    out = []
    for release in scenario.guest_releases:
        kernel_tree, assets = _fetch(
            release, say, timings, key=f"download_{release}", arch=scenario.arch
        )
        say(f"building {tree_dir} against {kernel_tree.abi} for the {release} guest")
        drv = driver_mod.prepare(tree_dir, kernel_tree, work / release)
        timings[f"build_{release}"] = drv.build_seconds
        initrd = images.guest_image(assets, drv, scenario, work / f"guest-{release}.cpio.gz")
        out.append(images.GuestBoot(f"guest-{release}", assets.vmlinuz, initrd))
    return out


def _boot(
    scenario: Scenario,
    assets: assets_mod.Assets,
    drv: driver_mod.Driver,
    initrd: Path,
    accel: str,
    keep_logs: Path | None,
    timeout: float | None,
    say: Progress,
    timings: dict[str, float],
) -> qemu.BootResult:
    log_dir = keep_logs or default_log_dir()
    serial = log_dir / f"serial-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    cmd, pass_code = qemu.command_for(
        scenario.arch, assets.xen, assets.vmlinuz, initrd, accel, scenario.cpus, hvm=scenario.hvm
    )
    limit = timeout or scenario.boot_timeout(drv.ring)
    say(f"booting Xen + Linux {assets.abi} under QEMU ({accel}, timeout {limit:.0f}s)")
    marks: dict[str, float] = {}
    boot = qemu.boot(cmd, serial, limit, live.marker_clock(marks, say), pass_code)
    timings.update(live.boot_timings(boot, marks))
    return boot


def default_log_dir(keep: int = 20) -> Path:
    """``<cache>/e2e/logs``, pruned to the newest ``keep`` serial logs."""
    folder = assets_mod.debian.cache_dir() / "e2e" / "logs"
    logs = sorted(folder.glob("serial-*.log"), key=lambda p: p.stat().st_mtime)
    for old in logs[: max(0, len(logs) - keep + 1)]:
        old.unlink(missing_ok=True)
    return folder
