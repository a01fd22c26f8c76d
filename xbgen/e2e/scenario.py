"""What one e2e run boots and proves: the :class:`Scenario`.

Its fields reach the init scripts through ``/xbgen/config``
(:func:`xbgen.e2e.images.config_text`); :meth:`Scenario.checked` refuses
impossible ones before any work, with a :class:`~xbgen.errors.UsageError`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xbgen import kernels
from xbgen.errors import UsageError

from .assets import DEFAULT_ARCH, DEFAULT_RELEASE
from .driver import Ring

ORDERS = ("backend-first", "frontend-first", "activate-first")
#: The guest types a run can give its main guest: x86 PV, or PVH (a guest
#: Xen runs in hardware virtualization with no device model).
GUEST_TYPES = ("pv", "pvh")
#: Self-test requests per depth in a default run (``--requests`` changes it).
REQUESTS = 10_000
#: Requests in flight at once for the self-test steps (each capped at the ring's size).
DEPTHS = (1, 32)
#: Connect/close cycles of the guest's device, with a self-test after each connect.
RING_CYCLES = 20
#: Lifecycle: save/restore rounds, and local migrations where Xen can migrate.
LIFECYCLE_SAVES = 2
MIGRATIONS = 3
#: Requests of the self-test that a save interrupts (it never ends on its own).
LONG_REQUESTS = 1_000_000
#: Self-test after each cycle's connect and after each rebind: requests, in flight.
CHECK_REQUESTS = (1000, 8)


@dataclass(frozen=True)
class Scenario:
    """One e2e run: which Debian releases boot, where the backend runs, and
    what the init scripts do (stage 1 in dom0 alone, stage 2 with a guest,
    the data path of a ring tree, stage 3's rebinds and reloads)."""

    #: The Debian release whose Xen, kernel and headers dom0 and the guest
    #: run (or the kernel line it ships: :func:`release_of`).
    release: str = DEFAULT_RELEASE
    #: Guests of other Debian releases (each its own kernel and a frontend built
    #: for it), connected at the same time as the main guest.
    guest_releases: tuple[str, ...] = ()
    #: The kernel flavour dom0 and the guests run (:data:`xbgen.kernels.ARCHES`):
    #: amd64 (x86-64), arm64 (Xen on Arm under qemu-system-aarch64) or
    #: arm64-16k (the same with 16 KiB Linux pages, 6.12 and 7.2).
    arch: str = DEFAULT_ARCH
    #: The main guest's type on x86 (``GUEST_TYPES``); the other guests are
    #: PV, so a ``pvh`` run with ``guest_releases`` is a mixed fleet of both
    #: types.  Xen on Arm has one guest type (xl's "pvh"), for all guests.
    guest_type: str = "pv"
    #: The backend runs in a second PV guest (a driver domain), not in dom0.
    driver_domain: bool = False
    #: Stage 2 and after: a PV guest runs the frontend.
    guest: bool = True
    #: Stage 1's rounds in dom0 alone, each in every load order of ``orders``.
    cycles: int = 1
    orders: tuple[str, ...] = ORDERS
    #: Seconds each wait inside the run may take (connect, insmod, ...).
    handshake_timeout: int = 30
    requests: int = REQUESTS
    depths: tuple[int, ...] = DEPTHS
    ring_cycles: int = RING_CYCLES
    check_requests: tuple[int, int] = CHECK_REQUESTS
    stage3: bool = True
    #: Stage 3's lifecycle steps (lifecycle.sh): save/restore this many times,
    #: then a save during a self-test, a checkpoint, local migrations (where
    #: this Xen can), a reboot and a shutdown of the guest.
    lifecycle: bool = True
    lifecycle_saves: int = LIFECYCLE_SAVES
    migrations: int = MIGRATIONS
    #: A vif between dom0 (netback) and the guest (netfront), pinged this many times.
    pings: int = 0

    @property
    def cpus(self) -> int:
        """QEMU's CPUs: one per domain, as each is pinned to its own (see qemu.py)."""
        guests = (1 + len(self.guest_releases) + self.driver_domain) if self.guest else 0
        return 1 + max(1, guests)

    @property
    def runs_lifecycle(self) -> bool:
        """Stage 3 goes through the lifecycle steps (not with a driver domain;
        on Arm only the reboot and the shutdown: :attr:`saves_work`)."""
        return self.guest and self.stage3 and self.lifecycle and not self.driver_domain

    @property
    def saves_work(self) -> bool:
        """xl save/restore (and so the checkpoint and migrations) exist: not
        on Arm, where libxl has no save/restore for guests."""
        return self.arch == "amd64"

    @property
    def xl_type(self) -> str:
        """The xl ``type`` of a guest that is not the main one."""
        return "pv" if self.arch == "amd64" else "pvh"

    @property
    def main_xl_type(self) -> str:
        """The xl ``type`` of the main guest."""
        return self.guest_type if self.arch == "amd64" else "pvh"

    @property
    def hvm(self) -> bool:
        """An x86 guest runs in hardware virtualization (PVH): Xen needs SVM
        with nested paging (HAP) from the CPU QEMU emulates (qemu.py)."""
        return self.guest and self.arch == "amd64" and self.guest_type == "pvh"

    @property
    def vif(self) -> bool:
        return self.pings > 0

    def depths_for(self, ring: Ring | None) -> tuple[int, ...]:
        """The self-test depths this ring takes: each capped at its slots, no repeats."""
        if ring is None:
            return ()
        return tuple(dict.fromkeys(min(d, ring.slots) for d in self.depths))

    def checked(self) -> Scenario:
        """This scenario with its releases named as Debian names them; raises
        :class:`UsageError` for one that cannot run."""
        if self.cycles < 1:
            raise UsageError("--cycles must be at least 1")
        if self.requests < 1:
            raise UsageError("--requests must be at least 1")
        if self.ring_cycles < 0:
            raise UsageError("--ring-cycles must not be negative")
        if self.lifecycle_saves < 0 or self.migrations < 0:
            raise UsageError("--saves and --migrations must not be negative")
        if self.guest_type not in GUEST_TYPES:
            raise UsageError(
                f"unknown guest type {self.guest_type!r}: use {' or '.join(GUEST_TYPES)}"
            )
        if self.guest_type != "pv" and not self.guest:
            raise UsageError("--guest-type needs the guest stage (no --no-guest)")
        if self.arch not in kernels.ARCHES:
            raise UsageError(f"unknown architecture {self.arch!r}: use {', '.join(kernels.ARCHES)}")
        if self.arch != "amd64" and self.guest_type != "pv":
            raise UsageError(
                f"--guest-type is x86's: Xen on Arm has one guest type ({self.arch} guests "
                "are all xl's pvh)"
            )
        release = release_of(self.release)
        for name in (release, *self.guest_releases):
            line = line_of(release_of(name))
            if line not in kernels.ARCHES[self.arch].lines:
                shipped = [
                    r for lin, r in _releases().items() if lin in kernels.ARCHES[self.arch].lines
                ]
                raise UsageError(
                    f"Debian {release_of(name)} (Linux {line}) has no {self.arch} kernel: "
                    f"use {' or '.join(shipped)}"
                )
        others = tuple(dict.fromkeys(release_of(name) for name in self.guest_releases))
        if (others or self.driver_domain) and not self.guest:
            raise UsageError(
                "--guest-release and --driver-domain need the guest stage (no --no-guest)"
            )
        return replace(self, release=release, guest_releases=others)

    def boot_timeout(self, ring: Ring | None = None) -> float:
        """Generous wall-clock bound for one QEMU run under TCG (steps time out first)."""
        per_order = 2 * self.handshake_timeout + 20
        # stage 2 (boot, connect) and stage 3 (rebinds, second device, reload, destroy)
        guest = 10 * self.handshake_timeout + 200 if self.guest else 0
        if self.guest and ring is not None:
            # self-tests at each depth, then the connect/close cycles
            # (as guests.sh's selftest_bound, and the guest's answer on top)
            tests = len(self.depths_for(ring)) * (self.requests / 50 + 90)
            guest += tests + self.ring_cycles * (self.handshake_timeout + 20)
        if self.runs_lifecycle:
            # lifecycle: each save, restore or migration up to SAVE_BOUND (180 s)
            # in lifecycle.sh, a reboot and a shutdown boot the guest again
            moves = self.lifecycle_saves + 2 + self.migrations
            guest += moves * (2 * 180 + self.handshake_timeout) + 2 * (90 + self.handshake_timeout)
        # each more guest (another release, a driver domain) boots and connects
        more = len(self.guest_releases) + self.driver_domain
        guest += more * (4 * self.handshake_timeout + 150) if self.guest else 0
        return 120 + self.cycles * len(self.orders) * per_order + guest


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


def _releases() -> dict[str, str]:
    """Kernel line -> the Debian release that ships it."""
    return {line: spec.release for line, spec in kernels.LINES.items()}


def line_of(release: str) -> str:
    """The kernel line Debian ``release`` ships (its headers: ``xbgen kernels``)."""
    return next(line for line, spec in kernels.LINES.items() if spec.release == release)
