"""Assemble the dom0 and guest initramfs images for one e2e run."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .assets import ARCHES, NETBACK, NETFRONT, XEN_MODULES, Assets
from .driver import Driver
from .initramfs import Initramfs, add_elf_with_libs, busybox_applets, find_busybox
from .scenario import LONG_REQUESTS, Scenario

XENSTORE_TOOLS = ("chmod", "exists", "list", "ls", "read", "rm", "watch", "write")
#: dlopen()ed by glibc (pthread_cancel/unwinding) for xl; readelf does not list it.
DLOPENED = ("libgcc_s.so.1",)
#: What the generated modules print.  HELLO is the module's own line (pr_fmt
#: prefixes the module name); the others are the device's (dev_info prefixes
#: the driver and the device, "mydeviceback mydevice-1-0: "), so the e2e greps
#: for them from the ": " on.
HELLO = "Hello World!"
BACK_CONNECT = "Connecting the backend now."
FRONT_CONNECT = "Connecting the frontend now."
BACK_LINES = (HELLO, "Probe called. We are good to go.", BACK_CONNECT)
FRONT_LINES = (
    HELLO,
    "Probe called. We are good to go.",
    FRONT_CONNECT,
    "Other side says it is connected as well.",
)


def logged(module: str, line: str) -> str:
    """What the kernel log holds of `line` printed by `module`, for grep -F."""
    return f"{module}: {line}" if line == HELLO else f": {line}"


#: The vif's point-to-point addresses (no bridge: dom0 addresses its vifN.0).
VIF_DOM0_IP = "10.99.0.1"
VIF_GUEST_IP = "10.99.0.2"
#: libxl's hotplug script for that vif: nothing to plug it into, say it is up
#: (netback waits for hotplug-status before it connects).
VIF_HOTPLUG = b"""#!/bin/sh
case "$1" in
online | add) /usr/bin/xenstore-write "$XENBUS_PATH/hotplug-status" connected ;;
esac
exit 0
"""


#: The two PID 1s in ``init/``; every other file there is a part of the init
#: library they source (``init/protocol.sh`` lists them), packed into every
#: image under ``/xbgen/``.
INITS = ("dom0-init.sh", "guest-init.sh")


def init_script(name: str) -> bytes:
    return resources.files("xbgen.e2e").joinpath("init", name).read_bytes()


def library_parts() -> list[str]:
    """The init library's files (``init/*.sh`` but the two PID 1s)."""
    folder = resources.files("xbgen.e2e").joinpath("init")
    names = (entry.name for entry in folder.iterdir())
    return sorted(name for name in names if name.endswith(".sh") and name not in INITS)


def config_text(driver: Driver, scenario: Scenario, assets: Assets | None = None) -> str:
    values = {
        "DEV": driver.devtype,
        "DEVID": driver.devid,
        "FRONT_MOD": driver.front_mod,
        "BACK_MOD": driver.back_mod,
        "CYCLES": str(scenario.cycles),
        "GUEST": "1" if scenario.guest else "0",
        "GUEST_TYPE": scenario.main_xl_type,
        "XL_TYPE": scenario.xl_type,
        "HANDSHAKE_TIMEOUT": str(scenario.handshake_timeout),
        "ORDERS": " ".join(scenario.orders),
        "FORGED": "xbgen-forged",
        "EXPECT_BACK": "|".join(logged(driver.back_mod, line) for line in BACK_LINES),
        "EXPECT_FRONT": "|".join(logged(driver.front_mod, line) for line in FRONT_LINES),
        # A rebind that only looks Connected in xenstore must also have connected.
        "CONNECT_BACK": logged(driver.back_mod, BACK_CONNECT),
        "CONNECT_FRONT": logged(driver.front_mod, FRONT_CONNECT),
        # The data path (a ring tree): counters, connect/close cycles, self-test.
        "RING": "1" if driver.ring else "0",
        "SELFTEST": "1" if driver.ring and driver.ring.selftest else "0",
        "RING_SLOTS": str(driver.ring.slots if driver.ring else 0),
        "REQUESTS": str(scenario.requests),
        "DEPTHS": " ".join(map(str, scenario.depths_for(driver.ring))),
        "RING_CYCLES": str(scenario.ring_cycles),
        "CHECK_REQUESTS": str(scenario.check_requests[0]),
        "CHECK_DEPTH": str(
            min(scenario.check_requests[1], driver.ring.slots if driver.ring else 1)
        ),
        "STAGE3": "1" if scenario.stage3 else "0",
        "LIFECYCLE": "1" if scenario.runs_lifecycle else "0",
        "LIFECYCLE_SAVES": str(scenario.lifecycle_saves if scenario.saves_work else 0),
        "SAVE_RESTORE": "1" if scenario.saves_work else "0",
        "LONG_REQUESTS": str(LONG_REQUESTS),
        "ON_RESUME": driver.ring.on_resume if driver.ring else "fail",
        "BUFFER_RUNS": " ".join(
            f"{size}:{calls}" for size, calls in (driver.ring.buffer_runs() if driver.ring else [])
        ),
        "MIGRATE_TIMES": "0",
        "CHECKPOINT": "1" if scenario.saves_work else "0",
        "PINGS": str(scenario.pings),
        "GUEST_RELEASES": " ".join(scenario.guest_releases),
        "DRIVER_DOMAIN": "1" if scenario.driver_domain else "0",
        "BACKEND_DOMID_SPEC": str(driver.backend_domid),
        "DOM0_IP": VIF_DOM0_IP,
        "GUEST_IP": VIF_GUEST_IP,
    }
    if assets is not None:
        values["XEN_BIN"] = _xen_bin(assets)
        if scenario.saves_work and assets.can_migrate(scenario.guest_type):
            values["MIGRATE_TIMES"] = str(scenario.migrations)
        if not assets.survives_checkpoint():
            values["CHECKPOINT"] = "0"
        # Each release builds some Xen drivers in: insmod the others, in this order.
        values["XEN_MODS"] = " ".join(
            Path(rel).stem for rel in XEN_MODULES if assets.has_module(rel)
        )
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def _base(config: str, assets: Assets) -> Initramfs:
    ramfs = Initramfs()
    host = find_busybox()
    # Another architecture's busybox cannot list its applets here: the
    # host's busybox names them (Debian builds both from one config).
    ramfs.add_busybox(assets.busybox or host, busybox_applets(host))
    for folder in ("proc", "sys", "dev", "tmp", "run", "var", "usr/bin"):
        ramfs.mkdir(folder)
    ramfs.symlink("/sbin", "bin")
    ramfs.symlink("/var/run", "../run")
    ramfs.symlink("/var/lock", "../run/lock")
    ramfs.add_bytes("/xbgen/config", config.encode())
    for name in library_parts():
        ramfs.add_bytes(f"/xbgen/{name}", init_script(name))
    return ramfs


def _add_elf(ramfs: Initramfs, dest: str, binary: Path, assets: Assets, **kw) -> None:
    """``binary`` of ``assets``' release and architecture, with its libraries."""
    arch = ARCHES[assets.arch]
    add_elf_with_libs(
        ramfs, dest, binary, assets.lib_dirs, assets.loader,
        lib_dir=f"/lib/{arch.triplet}", loader_path=arch.loader_path, **kw,
    )  # fmt: skip


def _xenstore_tools(ramfs: Initramfs, assets: Assets) -> None:
    _add_elf(ramfs, "/usr/bin/xenstore", assets.root / "usr/bin/xenstore-read", assets)
    for tool in XENSTORE_TOOLS:
        ramfs.symlink(f"/usr/bin/xenstore-{tool}", "xenstore")


def guest_image(
    assets: Assets, driver: Driver, scenario: Scenario, dest: Path, *, role: str = "frontend"
) -> Path:
    """A PV guest's initramfs: the frontend's guest, or (``role="backend"``) a
    driver domain that runs the backend.  Its xenstore tools come from
    ``assets``' release, as its kernel does."""
    ramfs = _base(config_text(driver, scenario) + f"ROLE={role}\n", assets)
    _xenstore_tools(ramfs, assets)
    module = driver.front_ko if role == "frontend" else driver.back_ko
    ramfs.add_file(f"/xbgen/driver/{module.name}", module, 0o644)
    if scenario.vif and role == "frontend":
        _add_modules(ramfs, assets, (NETFRONT,))
    ramfs.add_bytes("/init", init_script("guest-init.sh"), 0o755)
    return ramfs.write(dest)


@dataclass(frozen=True)
class GuestBoot:
    """What dom0 needs to start one more guest: its kernel and initramfs."""

    name: str  # the folder under /xbgen/ (``guest-RELEASE``, ``backend``)
    vmlinuz: Path
    initrd: Path


def _xen_bin(assets: Assets) -> str:
    """Where the release keeps xl and the daemons (xl looks for its helpers there)."""
    return f"/usr/lib/xen-{assets.xen_line}/bin"


def _add_modules(ramfs: Initramfs, assets: Assets, rels: tuple[str, ...]) -> None:
    for rel in rels:
        ramfs.add_file(f"/lib/modules/{Path(rel).name}", assets.kernel_module(rel), 0o644)


def dom0_image(
    assets: Assets,
    driver: Driver,
    scenario: Scenario,
    dest: Path,
    guest_initrd: Path | None,
    others: tuple[GuestBoot, ...] = (),
) -> Path:
    ramfs = _base(config_text(driver, scenario, assets), assets)
    _xenstore_tools(ramfs, assets)
    tools = ["xenstored", "xen-init-dom0"] + (["xl", "xenconsoled"] if scenario.guest else [])
    if scenario.runs_lifecycle:
        tools.append("libxl-save-helper")  # xl save, restore and migrate run it
    for tool in tools:
        _add_elf(ramfs, f"{_xen_bin(assets)}/{tool}", assets.xen_bin / tool, assets,
                 extra=DLOPENED)  # fmt: skip
    _add_modules(ramfs, assets, tuple(rel for rel in XEN_MODULES if assets.has_module(rel)))
    if scenario.vif:
        _add_modules(ramfs, assets, (NETBACK,))
        ramfs.add_bytes("/xbgen/vif-hotplug", VIF_HOTPLUG, 0o755)
    ramfs.add_file(f"/xbgen/driver/{driver.front_mod}.ko", driver.front_ko, 0o644)
    ramfs.add_file(f"/xbgen/driver/{driver.back_mod}.ko", driver.back_ko, 0o644)
    ramfs.add_file("/xbgen/driver/activate.sh", driver.activate, 0o755)
    ramfs.add_file("/xbgen/driver/deactivate.sh", driver.deactivate, 0o755)
    if guest_initrd is not None:
        ramfs.add_file("/xbgen/guest/vmlinuz", assets.vmlinuz, 0o644)
        ramfs.add_file("/xbgen/guest/initrd.gz", guest_initrd, 0o644)
    for other in others:
        ramfs.add_file(f"/xbgen/{other.name}/vmlinuz", other.vmlinuz, 0o644)
        ramfs.add_file(f"/xbgen/{other.name}/initrd.gz", other.initrd, 0o644)
    ramfs.add_bytes("/init", init_script("dom0-init.sh"), 0o755)
    return ramfs.write(dest)
