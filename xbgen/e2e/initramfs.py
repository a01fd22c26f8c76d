"""Build a gzip-compressed newc cpio archive (a Linux initramfs) in pure Python.

There is no ``cpio`` binary on the machines xbgen targets, so the archive format
is written here directly: every member is a 110-byte ASCII header, the NUL
terminated name, padding to 4 bytes, the data, padding to 4 bytes; the archive
ends with the ``TRAILER!!!`` member.
"""

from __future__ import annotations

import gzip
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from xbgen.errors import E2EError, ToolMissingError

NEWC_MAGIC = "070701"
TRAILER = "TRAILER!!!"
LOADER = "/lib64/ld-linux-x86-64.so.2"


@dataclass
class Entry:
    """One archive member: a directory, regular file or symlink."""

    path: str
    mode: int
    data: bytes = b""


@dataclass
class Initramfs:
    """An in-memory file tree, written out as a gzip'd newc cpio archive."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        parts = PurePosixPath(path.lstrip("/")).parts
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in self.entries:
                self.entries[sub] = Entry(sub, stat.S_IFDIR | mode)

    def add_bytes(self, path: str, data: bytes, mode: int = 0o644) -> None:
        rel = path.lstrip("/")
        parent = str(PurePosixPath(rel).parent)
        if parent != ".":
            self.mkdir(parent)
        self.entries[rel] = Entry(rel, stat.S_IFREG | mode, data)

    def add_file(self, path: str, src: Path, mode: int | None = None) -> None:
        real = src.resolve()
        if mode is None:
            mode = stat.S_IMODE(real.stat().st_mode)
        self.add_bytes(path, real.read_bytes(), mode)

    def symlink(self, path: str, target: str) -> None:
        rel = path.lstrip("/")
        parent = str(PurePosixPath(rel).parent)
        if parent != ".":
            self.mkdir(parent)
        self.entries[rel] = Entry(rel, stat.S_IFLNK | 0o777, target.encode())

    def add_busybox(self, busybox: Path, applets: list[str]) -> None:
        """Install a static busybox at /bin/busybox with one symlink per applet."""
        self.add_file("/bin/busybox", busybox, 0o755)
        for applet in applets:
            if applet != "busybox":
                self.symlink(f"/bin/{applet}", "busybox")

    def to_cpio(self) -> bytes:
        out = bytearray()
        for ino, entry in enumerate(sorted(self.entries.values(), key=lambda e: e.path), 1):
            out += _member(entry.path, entry.mode, entry.data, ino)
        out += _member(TRAILER, 0, b"", 0)
        return bytes(out)

    def write(self, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(gzip.compress(self.to_cpio(), compresslevel=1, mtime=0))
        return dest


def overlay(base: Path, dest: Path, files: dict[str, tuple[bytes, int]]) -> Path:
    """The image ``base`` with ``files`` (path -> (data, mode)) added or
    replaced, written to ``dest``: a second cpio archive after the first, in
    one gzip stream (Linux reads on past the first trailer, and libxenguest
    sizes a guest's ramdisk from the gzip trailer, so a second gzip member
    would not do).  Later members win: a test or benchmark swaps ``/init``
    this way without the images knowing of it."""
    extra = Initramfs()
    for path, (data, mode) in files.items():
        extra.add_bytes(path, data, mode)
    archive = gzip.decompress(base.read_bytes()) + extra.to_cpio()
    dest.write_bytes(gzip.compress(archive, compresslevel=1, mtime=0))
    return dest


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


def _member(name: str, mode: int, data: bytes, ino: int) -> bytes:
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    header = NEWC_MAGIC + "".join(f"{v:08X}" for v in fields)
    head = header.encode() + name.encode() + b"\0"
    return head + _pad4(len(head)) + data + _pad4(len(data))


def busybox_applets(busybox: Path) -> list[str]:
    """The applet names a busybox binary provides."""
    res = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True)
    return res.stdout.split()


def find_busybox() -> Path:
    for cand in ("/bin/busybox", "/usr/bin/busybox"):
        path = Path(cand)
        if path.exists() and _is_static(path):
            return path
    raise ToolMissingError("a static busybox is needed: apt-get install busybox-static")


def _is_static(path: Path) -> bool:
    res = subprocess.run(["readelf", "-l", str(path)], capture_output=True, text=True, check=False)
    return res.returncode == 0 and "INTERP" not in res.stdout


def _needed(binary: Path) -> list[str]:
    """DT_NEEDED entries of an ELF file (via readelf from binutils)."""
    if shutil.which("readelf") is None:
        raise ToolMissingError("readelf (binutils) is needed to collect shared libraries")
    res = subprocess.run(
        ["readelf", "-d", str(binary)], capture_output=True, text=True, check=False
    )
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", res.stdout)


def _locate(lib: str, search: list[Path]) -> Path:
    for directory in search:
        cand = directory / lib
        if cand.exists():
            return cand
    raise E2EError(f"shared library {lib} not found in {', '.join(map(str, search))}")


def add_elf_with_libs(
    ramfs: Initramfs,
    dest: str,
    binary: Path,
    search: list[Path],
    loader: Path,
    extra: tuple[str, ...] = (),
    *,
    lib_dir: str = "/lib/x86_64-linux-gnu",
    loader_path: str = LOADER,
) -> None:
    """Copy ``binary`` to ``dest`` plus, transitively, every library it links,
    found in ``search`` only (never the host's), into ``lib_dir``, and the
    dynamic ``loader`` to ``loader_path`` (the binaries' PT_INTERP).

    ``extra`` names libraries loaded with dlopen (``libgcc_s.so.1`` for glibc's
    pthread_cancel) that readelf cannot see.  readelf reads any
    architecture's ELF files, so an Arm image is packed on an x86 host.
    """
    ramfs.add_file(dest, binary, 0o755)
    dirs = list(search)
    todo = [*_needed(binary), *extra]
    while todo:
        lib = todo.pop()
        target = f"{lib_dir}/{lib}"
        if target.lstrip("/") in ramfs.entries:
            continue
        src = _locate(lib, dirs)
        ramfs.add_file(target, src, 0o755)
        todo.extend(_needed(src))
    if loader_path.lstrip("/") not in ramfs.entries:
        ramfs.add_file(loader_path, loader, 0o755)
