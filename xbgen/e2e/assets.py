"""Xen, its tools and the Debian kernel image for the e2e boot, from Debian's packages.

Packages are downloaded with :mod:`xbgen.debian` (``apt-get download`` into the
XDG cache) and unpacked with ``dpkg-deb -x`` into one root per kernel ABI and
Xen version under ``<cache>/e2e/``; later runs reuse that root.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from xbgen import debian
from xbgen.errors import FetchError

RELEASE = "bookworm"
XEN_LINE = "4.17"
XEN_PACKAGES = (
    f"xen-hypervisor-{XEN_LINE}-amd64",
    f"xen-utils-{XEN_LINE}",
    "xen-utils-common",
    "xenstore-utils",
    f"libxenmisc{XEN_LINE}",
    "libxenstore4",
    "libxenhypfs1",
    "libxentoolcore1",
    "libxendevicemodel1",
    "libxenforeignmemory1",
    "libxengnttab1",
    "libxencall1",
    "libxenevtchn1",
    "libxentoollog1",
    "libyajl2",
    # The libraries under those, from the same release (never the host's).
    "libc6",
    "libgcc-s1",
    "libuuid1",
    "zlib1g",
    "liblzma5",
    "libzstd1",
)
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
STAMP = "xbgen-assets.json"
ARCH_DIR = "x86_64-linux-gnu"


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

    @property
    def xen_bin(self) -> Path:
        return self.root / "usr" / "lib" / f"xen-{XEN_LINE}" / "bin"

    @property
    def lib_dirs(self) -> list[Path]:
        return [self.root / "lib" / ARCH_DIR, self.root / "usr" / "lib" / ARCH_DIR]

    @property
    def loader(self) -> Path:
        return self.root / "lib" / ARCH_DIR / "ld-linux-x86-64.so.2"

    def kernel_module(self, rel: str) -> Path:
        return self.root / "lib" / "modules" / self.abi / "kernel" / rel


def packages_for(abi: str) -> list[str]:
    return [*XEN_PACKAGES, f"linux-image-{abi}"]


def fetch(abi: str, progress: debian.Progress | None = None) -> Assets:
    """Download (or reuse) and unpack the e2e packages for kernel ``abi``.

    A root unpacked for ``abi`` less than a day ago is reused without asking apt
    again: xbgen's package lists are refreshed once a day, so the candidates
    cannot have moved in between.
    """
    say = progress or debian.stderr_progress
    started = time.monotonic()
    recent = _recent_root(abi)
    if recent is not None:
        root, versions = recent
        return _describe(root, abi, versions, time.monotonic() - started, False)
    debs = debian.download(packages_for(abi), RELEASE, say)
    versions = {deb.name: deb.version for deb in debs}
    root = _root_for(abi, versions)
    unpacked = not (root / STAMP).is_file()
    if unpacked:
        _unpack_all(debs, root, say)
    assets = _describe(root, abi, versions, time.monotonic() - started, unpacked)
    (root / STAMP).write_text(json.dumps(versions, indent=1, sort_keys=True))
    return assets


def _recent_root(abi: str) -> tuple[Path, dict[str, str]] | None:
    """(root, versions) of an unpacked root for ``abi`` stamped within a day."""
    for stamp in (debian.cache_dir() / "e2e").glob(f"{abi}_xen-*/{STAMP}"):
        if time.time() - stamp.stat().st_mtime >= debian.LIST_MAX_AGE_S:
            continue
        versions = json.loads(stamp.read_text())
        if set(versions) == set(packages_for(abi)):
            return stamp.parent, versions
    return None


def _root_for(abi: str, versions: dict[str, str]) -> Path:
    """One root per exact package set: a security update gets a fresh root."""
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:12]
    xen_version = versions[f"xen-hypervisor-{XEN_LINE}-amd64"].split("+")[0]
    return debian.cache_dir() / "e2e" / f"{abi}_xen-{xen_version}_{digest}"


def _unpack_all(debs: list[debian.Deb], root: Path, say: debian.Progress) -> None:
    work = root.with_name(root.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    say(f"unpacking {len(debs)} packages into {root}")
    for deb in debs:
        if deb.name.startswith("linux-image-"):
            _unpack_kernel(deb, work)
        else:
            debian.unpack(deb, work)
    _gunzip_xen(work)
    for old in root.parent.glob("*_xen-*"):
        if old != work:
            shutil.rmtree(old, ignore_errors=True)
    work.rename(root)


def _unpack_kernel(deb: debian.Deb, root: Path) -> None:
    """Only the kernel image and the Xen modules: the full image is ~400 MB unpacked."""
    abi = deb.name.removeprefix("linux-image-")
    _extract(deb, root, [f"./boot/vmlinuz-{abi}", *_members(abi, (*XEN_MODULES, *NET_MODULES))])


def _members(abi: str, rels: tuple[str, ...]) -> list[str]:
    return [f"./lib/modules/{abi}/kernel/{rel}" for rel in rels]


def _extract(deb: debian.Deb, root: Path, members: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    script = 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "${@:3}"'
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script, "unpack", str(deb.path), str(root), *members],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise FetchError(f"unpacking {deb.path.name} failed: {proc.stderr.strip()[-500:]}")


def ensure_modules(
    assets: Assets, rels: tuple[str, ...], progress: debian.Progress | None = None
) -> None:
    """Unpack kernel modules ``rels`` into ``assets.root`` if an older xbgen left them out."""
    missing = tuple(rel for rel in rels if not assets.kernel_module(rel).is_file())
    if not missing:
        return
    name = f"linux-image-{assets.abi}"
    (deb,) = debian.download([name], RELEASE, progress)
    if deb.version != assets.versions.get(name):
        raise FetchError(
            f"{name} is {deb.version} now, the unpacked root has {assets.versions.get(name)}: "
            f"remove {assets.root} and retry"
        )
    _extract(deb, assets.root, _members(assets.abi, missing))


def _gunzip_xen(root: Path) -> None:
    gz = root / "boot" / f"xen-{XEN_LINE}-amd64.gz"
    if not gz.is_file():
        raise FetchError(f"the Xen package has no {gz.name}")
    (root / "boot" / f"xen-{XEN_LINE}-amd64.elf").write_bytes(gzip.decompress(gz.read_bytes()))


def _describe(
    root: Path, abi: str, versions: dict[str, str], seconds: float, downloaded: bool
) -> Assets:
    xen = root / "boot" / f"xen-{XEN_LINE}-amd64.elf"
    vmlinuz = root / "boot" / f"vmlinuz-{abi}"
    for path in (xen, vmlinuz):
        if not path.is_file():
            raise FetchError(f"{path} missing from the unpacked packages: remove {root} and retry")
    return Assets(root, xen, vmlinuz, abi, versions, seconds, downloaded)
