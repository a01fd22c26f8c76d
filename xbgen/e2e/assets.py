"""Xen, its tools and the Debian kernel image for the e2e boot, from Debian's packages.

Packages are downloaded with :mod:`xbgen.debian` (``apt-get download`` into the
XDG cache) and unpacked with ``dpkg-deb -x`` into one root per Debian release,
kernel ABI and Xen version under ``<cache>/e2e/``; later runs reuse that root.
Each release boots its own Xen (bullseye 4.14, bookworm 4.17, trixie and sid
4.20) and its own kernel, for x86-64 (``amd64``) or Arm (``arm64``: Xen on
Arm under ``qemu-system-aarch64``, with that architecture's static busybox).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from xbgen import debian, kernels
from xbgen.errors import FetchError, ToolMissingError

#: The release a plain ``xbgen e2e`` boots.
DEFAULT_RELEASE = "bookworm"
#: The packages that carry the hypervisor and the dom0 toolstack; the libraries
#: under them come from :func:`xbgen.debian.library_closure`, from the same
#: release and architecture (never the host's).
XEN_ROOTS = (
    "xen-hypervisor-{xen}-{arch}", "xen-utils-{xen}", "xen-utils-common", "xenstore-utils"
)  # fmt: skip


@dataclass(frozen=True)
class Arch:
    """What differs between the architectures an e2e run boots."""

    name: str  # Debian's: amd64, arm64
    triplet: str  # the multiarch library folder
    loader: str  # the dynamic loader's file name
    loader_path: str  # where the binaries look for it
    #: The initramfs' busybox comes from the release's busybox-static of this
    #: architecture (the host's runs only on the host's).
    busybox_package: bool


ARCHES = {
    "amd64": Arch("amd64", "x86_64-linux-gnu", "ld-linux-x86-64.so.2",
                  "/lib64/ld-linux-x86-64.so.2", busybox_package=False),
    "arm64": Arch("arm64", "aarch64-linux-gnu", "ld-linux-aarch64.so.1",
                  "/lib/ld-linux-aarch64.so.1", busybox_package=True),
}  # fmt: skip
DEFAULT_ARCH = "amd64"
#: Xen drivers Debian builds as modules; dom0 needs them for the toolstack.
XEN_MODULES = (
    "drivers/xen/xen-evtchn.ko",
    "drivers/xen/xen-privcmd.ko",
    "drivers/xen/xenfs/xenfs.ko",
    "drivers/xen/xen-gntdev.ko",
    "drivers/xen/xen-gntalloc.ko",
)
#: Xen's network drivers, for the benchmark's vif: netback in dom0, netfront in the guest.
NETBACK = "drivers/net/xen-netback/xen-netback.ko"
NETFRONT = "drivers/net/xen-netfront.ko"
NET_MODULES = (NETBACK, NETFRONT)
#: Xen's block drivers and a RAM disk, for the buffer benchmark's comparison
#: (benchmarks/bench_buffers.py): blkback and brd in dom0, blkfront in the guest.
BLKBACK = "drivers/block/xen-blkback/xen-blkback.ko"
BLKFRONT = "drivers/block/xen-blkfront.ko"
BRD = "drivers/block/brd.ko"
BLOCK_MODULES = (BLKBACK, BLKFRONT, BRD)
STAMP = "xbgen-assets.json"
#: What an unpacked root holds (its STAMP says): bump it when
#: :func:`_unpack_kernel` keeps more, and older roots are unpacked again.
LAYOUT = 2


@dataclass(frozen=True)
class Assets:
    """Everything the boot needs, unpacked on disk."""

    root: Path  # the unpacked packages
    xen: Path  # the hypervisor as an ELF (QEMU's multiboot loader needs it unzipped)
    vmlinuz: Path
    abi: str
    versions: dict[str, str]  # package -> exact Debian version
    seconds: float
    downloaded: bool  # False when everything came from the cache
    release: str = DEFAULT_RELEASE
    xen_line: str = "4.17"  # the hypervisor's major.minor, as Debian names its packages
    arch: str = DEFAULT_ARCH

    @property
    def xen_bin(self) -> Path:
        return self.root / "usr" / "lib" / f"xen-{self.xen_line}" / "bin"

    @property
    def lib_dirs(self) -> list[Path]:
        triplet = ARCHES[self.arch].triplet
        return [self.root / "lib" / triplet, self.root / "usr" / "lib" / triplet]

    @property
    def loader(self) -> Path:
        """The dynamic loader (under /usr/lib in releases that ship merged /usr)."""
        name = ARCHES[self.arch].loader
        for folder in self.lib_dirs:
            if (folder / name).is_file():
                return folder / name
        return self.lib_dirs[0] / name

    @property
    def busybox(self) -> Path | None:
        """The release's static busybox, where the boot needs its own (not the host's)."""
        return _busybox(self.root) if ARCHES[self.arch].busybox_package else None

    def kernel_module(self, rel: str) -> Path:
        return self.root / "lib" / "modules" / self.abi / "kernel" / rel

    def has_module(self, rel: str) -> bool:
        """False for a driver the release's kernel has built in (nothing to insmod)."""
        return self.kernel_module(rel).is_file()

    @property
    def xen_config(self) -> Path:
        """The hypervisor's build configuration, as the package ships it."""
        return self.root / "boot" / f"xen-{self.xen_line}-{self.arch}.config"

    def can_migrate(self, guest_type: str = "pv") -> bool:
        """Can this Xen live-migrate a guest of ``guest_type``?  It needs
        log-dirty mode: a PVH guest's comes from HAP (which the PVH run's CPU
        has), a PV guest's from shadow paging, which Debian builds some
        releases' Xen without (bookworm's 4.17 and trixie's 4.20 at least):
        `xl migrate` then fails with "Failed to enable logdirty: 95".
        Xen on Arm has no save/restore nor migration (libxl refuses them)."""
        if self.arch != "amd64":
            return False
        if guest_type == "pvh":
            return True
        try:
            text = self.xen_config.read_text()
        except OSError:
            return False
        return "CONFIG_SHADOW_PAGING=y" in text.splitlines()

    def survives_checkpoint(self) -> bool:
        """Does this release's PV guest survive `xl save -c` (a checkpoint)?

        Not bullseye's: under Xen 4.14 its Linux 5.10 guest takes the
        checkpoint for a restore (it runs xen_irq_resume, which only a
        suspend that was not cancelled reaches) and BUG()s in
        evtchn_fifo_resume (drivers/xen/events/events_fifo.c:366) when it
        registers its FIFO event channels again in the same domain: seen in
        the release matrix, in the kernel's own resume, before any driver's.
        """
        return self.xen_line != "4.14"

    @property
    def xen_version(self) -> str:
        return self.versions[f"xen-hypervisor-{self.xen_line}-{self.arch}"].split("+")[0]


def apt_release(release: str, arch: str) -> str:
    """What :mod:`xbgen.debian` calls ``release``'s packages of ``arch``
    (``bookworm:arm64``; the host's own, amd64, are plain ``bookworm``)."""
    return debian.for_arch(release, None if arch == DEFAULT_ARCH else arch)


def xen_line(release: str, arch: str = DEFAULT_ARCH) -> str:
    """The Xen line ``release`` ships ("4.17"), from what xen-system-ARCH depends on."""
    for dep in debian.depends(f"xen-system-{arch}", apt_release(release, arch)):
        match = re.fullmatch(rf"xen-hypervisor-(\d+\.\d+)-{arch}", dep)
        if match:
            return match.group(1)
    raise FetchError(f"Debian {release}'s xen-system-{arch} names no xen-hypervisor-X.Y-{arch}")


def packages_for(
    abi: str, release: str = DEFAULT_RELEASE, arch: str = DEFAULT_ARCH
) -> tuple[str, list[str]]:
    """(Xen line, packages) of the boot set for kernel ``abi`` in ``release``."""
    xen = xen_line(release, arch)
    roots = [name.format(xen=xen, arch=arch) for name in XEN_ROOTS]
    if ARCHES[arch].busybox_package:
        roots.append("busybox-static")
    return xen, [
        *debian.library_closure(roots, apt_release(release, arch)),
        *kernel_packages(abi, release, arch),
    ]


def kernel_packages(abi: str, release: str, arch: str = DEFAULT_ARCH) -> list[str]:
    """``linux-image-ABI`` and, where Debian splits it (7.x), the packages
    with its image and modules (``linux-binary-ABI``, ``linux-modules-ABI``)."""
    image = f"linux-image-{abi}"
    split = [
        dep for dep in debian.depends(image, apt_release(release, arch))
        if dep in (f"linux-binary-{abi}", f"linux-modules-{abi}")
    ]  # fmt: skip
    return [image, *split]


def flavour_of(abi: str) -> str:
    """The kernel flavour (:data:`xbgen.kernels.ARCHES`) of a Debian kernel ABI
    ("6.12.118+deb13-arm64-16k" -> arm64-16k): the longest that ends it, as
    one flavour's name ends with another's."""
    for flavour in sorted(kernels.ARCHES, key=len, reverse=True):
        if abi.endswith(f"-{flavour}"):
            return flavour
    raise FetchError(f"kernel {abi}: not one of the architectures e2e boots ({', '.join(ARCHES)})")


def arch_of(abi: str) -> str:
    """The Debian architecture a kernel ABI is built for ("6.1.0-57-arm64" -> arm64)."""
    return kernels.ARCHES[flavour_of(abi)].debian


def fetch(
    abi: str, progress: debian.Progress | None = None, release: str = DEFAULT_RELEASE
) -> Assets:
    """Download (or reuse) and unpack ``release``'s e2e packages for kernel ``abi``.

    A root unpacked for ``release`` and ``abi`` less than a day ago is reused
    without asking apt again: xbgen's package lists are refreshed once a day,
    so the candidates cannot have moved in between.
    """
    say = progress or debian.stderr_progress
    started = time.monotonic()
    recent = _recent_root(release, abi)
    if recent is not None:
        root, stamp = recent
        return _describe(root, abi, stamp, time.monotonic() - started, False)
    arch = arch_of(abi)
    xen, packages = packages_for(abi, release, arch)
    debs = debian.download(packages, apt_release(release, arch), say)
    stamp = {
        "release": release,
        "arch": arch,
        "xen_line": xen,
        "versions": {deb.name: deb.version for deb in debs},
        "layout": LAYOUT,
    }
    root = _root_for(release, abi, stamp)
    unpacked = not _current(root)
    if unpacked:
        _unpack_all(debs, root, abi, xen, say)
    assets = _describe(root, abi, stamp, time.monotonic() - started, unpacked)
    (root / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True))
    return assets


def _recent_root(release: str, abi: str) -> tuple[Path, dict] | None:
    """(root, stamp) of a root unpacked for ``release`` and ``abi`` within a day."""
    for path in (debian.cache_dir() / "e2e").glob(f"{release}_{abi}_xen-*/{STAMP}"):
        if time.time() - path.stat().st_mtime >= debian.LIST_MAX_AGE_S:
            continue
        stamp = json.loads(path.read_text())
        if (
            stamp.get("release") == release
            and f"linux-image-{abi}" in stamp.get("versions", {})
            and stamp.get("layout") == LAYOUT
        ):
            return path.parent, stamp
    return None


def _current(root: Path) -> bool:
    """Is ``root`` unpacked, in today's layout?"""
    try:
        return json.loads((root / STAMP).read_text()).get("layout") == LAYOUT
    except (OSError, ValueError):
        return False


def _root_for(release: str, abi: str, stamp: dict) -> Path:
    """One root per exact package set: a security update gets a fresh root."""
    versions = stamp["versions"]
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:12]
    arch = stamp.get("arch", DEFAULT_ARCH)
    xen_version = versions[f"xen-hypervisor-{stamp['xen_line']}-{arch}"].split("+")[0]
    return debian.cache_dir() / "e2e" / f"{release}_{abi}_xen-{xen_version}_{digest}"


def _unpack_all(
    debs: list[debian.Deb], root: Path, abi: str, xen: str, say: debian.Progress
) -> None:
    work = root.with_name(root.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    say(f"unpacking {len(debs)} packages into {root}")
    for deb in debs:
        if deb.name.endswith(f"-{abi}"):
            _unpack_kernel(deb, abi, work)
        else:
            debian.unpack(deb, work)
    _normalise_modules(work, abi)
    if arch_of(abi) == "amd64":
        _gunzip_xen(work, xen)
    release = root.name.split("_", 1)[0]
    # This root if a run stopped half-way, older roots of this release and
    # kernel flavour, and those of xbgen versions that named roots without
    # the release ("<abi>_xen-*").
    flavour = flavour_of(abi)
    olds = [
        root,
        *root.parent.glob(f"{release}_*-{flavour}_xen-*"),
        *root.parent.glob("[0-9]*_xen-*"),
    ]
    for old in olds:
        if old != work:
            shutil.rmtree(old, ignore_errors=True)
    work.rename(root)


def _unpack_kernel(deb: debian.Deb, abi: str, root: Path) -> None:
    """Only the kernel image and the Xen modules: the full image is ~400 MB unpacked.

    Whole folders, as a driver one release builds as a module another builds
    in; a package may hold only some of them (7.x splits image and modules).
    """
    folders = ("drivers/xen/", "drivers/net/xen-net", "drivers/block/xen-blk", "drivers/block/brd")
    image = [f"./boot/vmlinuz-{abi}", f"*/modules/{abi}/vmlinuz"]  # 7.x: next to the modules
    _extract(deb, root, [*image, *_members(abi, folders)], partial=True)


def _members(abi: str, rels: tuple[str, ...]) -> list[str]:
    """tar patterns for modules ``rels``: under /lib or /usr/lib (merged /usr),
    maybe compressed (.ko.xz, .ko.zst)."""
    return [f"*/modules/{abi}/kernel/{rel}*" for rel in rels]


def _normalise_modules(root: Path, abi: str) -> None:
    """Modules to ``root/lib/modules/ABI/kernel/...``, uncompressed (busybox's
    insmod takes a plain .ko); a 7.x image from beside them to ``boot/``."""
    merged = root / "usr" / "lib" / "modules" / abi
    target = root / "lib" / "modules" / abi
    if merged.is_dir():
        for src in merged.rglob("*"):
            if src.is_file():
                dest = target / src.relative_to(merged)
                dest.parent.mkdir(parents=True, exist_ok=True)
                src.replace(dest)
        shutil.rmtree(root / "usr" / "lib" / "modules")
    image = target / "vmlinuz"
    if image.is_file():
        (root / "boot").mkdir(exist_ok=True)
        image.replace(root / "boot" / f"vmlinuz-{abi}")
    for packed in [*target.rglob("*.ko.xz"), *target.rglob("*.ko.zst")]:
        plain = packed.with_suffix("")
        if packed.suffix == ".xz":
            plain.write_bytes(lzma.decompress(packed.read_bytes()))
        else:
            _unzstd(packed, plain)
        packed.unlink()


def _unzstd(packed: Path, plain: Path) -> None:
    if shutil.which("zstd") is None:
        raise ToolMissingError(f"{packed.name} is zstd-compressed: apt-get install zstd")
    proc = subprocess.run(
        ["zstd", "-q", "-d", "-f", "-o", str(plain), str(packed)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise FetchError(f"zstd -d {packed} failed: {proc.stderr.strip()}")


def _extract(deb: debian.Deb, root: Path, members: list[str], *, partial: bool = False) -> None:
    """Unpack ``members`` (tar patterns) of ``deb``; with ``partial`` patterns
    that match nothing in it are fine."""
    root.mkdir(parents=True, exist_ok=True)
    script = 'dpkg-deb --fsys-tarfile "$1" | tar -x --wildcards -C "$2" "${@:3}"'
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script, "unpack", str(deb.path), str(root), *members],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    errors = [
        line for line in proc.stderr.splitlines()
        if not (partial and ("Not found in archive" in line or "Exiting with failure" in line))
    ]  # fmt: skip
    if proc.returncode != 0 and (errors or not partial):
        raise FetchError(f"unpacking {deb.path.name} failed: {proc.stderr.strip()[-500:]}")


def _gunzip_xen(root: Path, xen: str) -> None:
    gz = root / "boot" / f"xen-{xen}-amd64.gz"
    if not gz.is_file():
        raise FetchError(f"the Xen package has no {gz.name}")
    (root / "boot" / f"xen-{xen}-amd64.elf").write_bytes(gzip.decompress(gz.read_bytes()))


def _busybox(root: Path) -> Path:
    """busybox-static's binary: /bin, or /usr/bin in releases with merged /usr."""
    for folder in ("bin", "usr/bin"):
        if (root / folder / "busybox").is_file():
            return root / folder / "busybox"
    return root / "bin" / "busybox"


def xen_image(root: Path, xen: str, arch: str) -> Path:
    """The hypervisor as QEMU loads it: an ELF for x86's multiboot (unzipped
    from Debian's xen-X.Y-amd64.gz), Debian's own Image on Arm."""
    if arch == "amd64":
        return root / "boot" / f"xen-{xen}-amd64.elf"
    return root / "boot" / f"xen-{xen}-{arch}"


def _describe(root: Path, abi: str, stamp: dict, seconds: float, downloaded: bool) -> Assets:
    arch = stamp.get("arch", DEFAULT_ARCH)
    xen = xen_image(root, stamp["xen_line"], arch)
    vmlinuz = root / "boot" / f"vmlinuz-{abi}"
    busybox = [_busybox(root)] if ARCHES[arch].busybox_package else []
    for path in (xen, vmlinuz, *busybox):
        if not path.is_file():
            raise FetchError(f"{path} missing from the unpacked packages: remove {root} and retry")
    return Assets(
        root, xen, vmlinuz, abi, stamp["versions"], seconds, downloaded,
        release=stamp["release"], xen_line=stamp["xen_line"], arch=arch,
    )  # fmt: skip
