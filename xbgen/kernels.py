"""Provision Debian kernel build trees for the kernel lines xbgen supports.

A tree is one kernel line (``LINES``) for one Debian kernel flavour
(``ARCHES``): ``amd64`` (the default), ``arm64``, or ``arm64-16k`` (16 KiB
pages).  The arm64 ones are cross-built on this amd64 machine: the arm64
``linux-headers-<abi>`` package is unpacked with ``dpkg-deb -x`` beside the
amd64 ``linux-kbuild`` (its programs run here) and the arch-independent
``-common`` package, and make runs with ``ARCH=arm64
CROSS_COMPILE=aarch64-linux-gnu-`` and Debian's cross compiler
(``gcc-N-aarch64-linux-gnu``, N the kernel's own gcc).

Two ways, chosen per line (see ``LINES``):

``debs``
    (6.1 on a bookworm host) ``linux-headers-<abi>``, its ``-common`` and
    ``linux-kbuild-6.1`` are downloaded with :mod:`xbgen.debian` and unpacked
    with ``dpkg-deb -x`` under ``<cache>/kernels/6.1/root``. The headers'
    Makefile includes ``/usr/src/...-common/Makefile`` by absolute path; that
    line is rewritten to a relative one. The host's ``gcc-12`` is the
    kernel's own compiler. No root needed.

``chroot``
    (5.10, 6.12, 7.2) the kernel's compiler (gcc-10, gcc-14, gcc-16) does not
    exist on bookworm, so a ``debootstrap --variant=minbase`` chroot of the
    matching release is made under ``<cache>/kernels/<line>/root`` with the
    build tools, then the release's ``linux-headers-amd64`` is installed
    inside it (for arm64: the release's ``-common``, ``linux-kbuild`` and
    cross compiler, and the arm64 headers unpacked). Builds run in it under
    ``unshare --mount`` with ``/proc`` mounted and the driver tree
    bind-mounted (see :mod:`xbgen.build`). Needs root (debootstrap, mount,
    chroot).

A tree is built in a temporary folder and renamed into place only when
complete, and described by ``tree.json``; later runs reuse it.  amd64 trees
live in ``<cache>/kernels/<line>``, the others in
``<cache>/kernels/<line>-<arch>`` (``6.1-arm64``, ``6.12-arm64-16k``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from xbgen import debian
from xbgen.debian import Progress, quiet
from xbgen.errors import FetchError, ToolMissingError

CHROOT_PACKAGES = ("make", "libc6-dev", "libelf-dev", "bc", "kmod", "dwarves", "perl")
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUILD_MOUNT = "/xbgen-build"
META = "tree.json"


@dataclass(frozen=True)
class Line:
    """How to provision one kernel line."""

    release: str
    method: str  # "debs" or "chroot"
    kbuild: str = ""  # linux-kbuild-<x> package for "debs"


LINES: dict[str, Line] = {
    "5.10": Line("bullseye", "chroot"),
    "6.1": Line("bookworm", "debs", kbuild="linux-kbuild-6.1"),
    "6.12": Line("trixie", "chroot"),
    "7.2": Line("sid", "chroot"),
}

#: The line ``xbgen build --arch A`` builds against without ``--kernel``.
DEFAULT_LINE = "6.1"


@dataclass(frozen=True)
class Arch:
    """A Debian kernel flavour: the last part of its ABI (``6.1.0-N-arm64``)."""

    name: str
    debian: str  # the Debian architecture of its packages
    kbuild: str  # kbuild's ARCH
    cross: str  # CROSS_COMPILE on this amd64 machine ("": a native build)
    lines: tuple[str, ...]  # the kernel lines Debian ships its headers for


#: The architecture these builds run on: other flavours are cross-built.
HOST_ARCH = "amd64"
DEFAULT_ARCH = HOST_ARCH
ARCHES: dict[str, Arch] = {
    "amd64": Arch("amd64", "amd64", "x86", "", tuple(LINES)),
    "arm64": Arch("arm64", "arm64", "arm64", "aarch64-linux-gnu-", tuple(LINES)),
    # 16 KiB pages; Debian builds no 64 KiB flavour
    "arm64-16k": Arch("arm64-16k", "arm64", "arm64", "aarch64-linux-gnu-", ("6.12", "7.2")),
}


@dataclass
class KernelTree:
    """A ready kernel build tree.

    ``kdir`` is the tree's path on this machine; ``make_kdir`` is the path to
    pass as ``KDIR``/``make -C`` (inside the chroot when ``chroot`` is set).
    """

    line: str
    release: str
    abi: str  # e.g. "6.1.0-56-amd64": pick the matching linux-image-<abi>
    version: str  # Debian package version of the headers, e.g. "6.1.192-2"
    kdir: Path
    make_kdir: str
    chroot: Path | None = None
    make_env: dict[str, str] = field(default_factory=dict)
    arch: str = DEFAULT_ARCH  # a key of ARCHES: amd64, arm64, arm64-16k
    #: A newer headers package the mirror listed but could not serve (404):
    #: this tree is current until Debian moves past it.
    skipped: str = ""

    @property
    def image_package(self) -> str:
        """The Debian package with the kernel image these headers belong to."""
        return f"linux-image-{self.abi}"

    @property
    def make_args(self) -> list[str]:
        """What make needs on its command line for this tree (a cross build's ARCH)."""
        flavour = ARCHES[self.arch]
        if not flavour.cross:
            return []
        return [f"ARCH={flavour.kbuild}", f"CROSS_COMPILE={flavour.cross}"]

    def to_json(self) -> str:
        data = asdict(self)
        data["kdir"] = str(self.kdir)
        data["chroot"] = str(self.chroot) if self.chroot else None
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> KernelTree:
        """A tree from its ``tree.json`` (one written before a field existed gets its default)."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        data = {key: value for key, value in data.items() if key in known}
        data["kdir"] = Path(data["kdir"])
        data["chroot"] = Path(data["chroot"]) if data.get("chroot") else None
        return cls(**data)


def _line(line: str, arch: str = DEFAULT_ARCH) -> Line:
    """The line's recipe; raises when the line, the arch, or the pair is unknown."""
    if line not in LINES:
        raise FetchError(f"unknown kernel line {line!r}; supported: {', '.join(LINES)}")
    flavour = _arch(arch)
    if line not in flavour.lines:
        raise FetchError(
            f"kernel {line} (Debian {LINES[line].release}) has no {arch} headers: Debian "
            f"ships linux-headers-*-{arch} for {', '.join(flavour.lines)} only"
        )
    return LINES[line]


def _arch(arch: str) -> Arch:
    if arch not in ARCHES:
        raise FetchError(f"unknown architecture {arch!r}; supported: {', '.join(ARCHES)}")
    return ARCHES[arch]


def _apt_release(release: str, flavour: Arch) -> str:
    """The release name :mod:`xbgen.debian` lists ``flavour``'s packages under."""
    return debian.for_arch(release, None if flavour.debian == HOST_ARCH else flavour.debian)


def line_dir(line: str, arch: str = DEFAULT_ARCH) -> Path:
    _line(line, arch)
    name = line if arch == DEFAULT_ARCH else f"{line}-{arch}"
    return debian.cache_dir() / "kernels" / name


def find(line: str, arch: str = DEFAULT_ARCH) -> KernelTree | None:
    """The cached tree for ``line`` and ``arch``, or ``None`` when it was never fetched."""
    meta = line_dir(line, arch) / "root" / META
    if not meta.is_file():
        return None
    tree = KernelTree.from_json(meta.read_text())
    return tree if tree.kdir.is_dir() else None


def fetch(
    line: str,
    progress: Progress | None = None,
    *,
    arch: str = DEFAULT_ARCH,
    refresh: bool = True,
) -> KernelTree:
    """Provision (or reuse) the build tree for ``line`` and ``arch`` (see ``ARCHES``).

    With ``refresh`` a cached tree is replaced when Debian's ``linux-headers-<arch>``
    has moved to another ABI (the old ``linux-image-<abi>`` leaves the archive then).
    Raises :class:`FetchError`, before writing anything, for a line Debian ships
    no headers of ``arch`` for.
    """
    say = progress or quiet
    _line(line, arch)
    found = find(line, arch)
    if found is not None and (not refresh or is_current(found, say)):
        return found
    with debian.locked(line_dir(line, arch) / ".lock"):
        again = find(line, arch)
        if again is not None and (again != found or not refresh):
            return again
        return _provision(line, arch, say)


def is_current(tree: KernelTree, progress: Progress | None = None) -> bool:
    """Whether ``tree`` still has the ABI Debian ships for its release (offline: assume so)."""
    say = progress or quiet
    flavour = _arch(tree.arch)
    try:
        latest = _headers_of(f"linux-headers-{tree.arch}", _apt_release(tree.release, flavour))
    except FetchError as exc:
        say(f"could not check for newer {tree.line} {tree.arch} headers: {exc}")
        return True
    if latest in (f"linux-headers-{tree.abi}", tree.skipped):
        return True
    say(f"Debian {tree.release} moved from {tree.abi} to {latest}")
    return False


def _provision(line: str, arch: str, say: Progress) -> KernelTree:
    spec, flavour = _line(line, arch), _arch(arch)
    started = time.monotonic()
    say(f"provisioning kernel {line} {arch} build tree from Debian {spec.release} ({spec.method})")
    work = line_dir(line, arch) / f"tmp-{os.getpid()}"
    _remove(work)
    try:
        if spec.method == "debs":
            tree = _fetch_debs(line, spec, work, say, flavour)
        else:
            tree = _fetch_chroot(line, spec, work, say, flavour)
        tree = _install(tree, work, line_dir(line, arch) / "root")
    finally:
        _remove(work)
    say(
        f"kernel {line} {arch} ({tree.abi}) ready in {time.monotonic() - started:.0f}s: {tree.kdir}"
    )
    return tree


def fetch_many(
    lines: Sequence[str], progress: Progress | None = None, *, arch: str = DEFAULT_ARCH
) -> dict[str, KernelTree]:
    """Fetch several lines of one arch in parallel (downloads are IO-bound)."""
    for line in lines:
        _line(line, arch)
    with ThreadPoolExecutor(max_workers=max(1, len(lines))) as pool:
        futures = {line: pool.submit(fetch, line, progress, arch=arch) for line in lines}
        return {line: fut.result() for line, fut in futures.items()}


def _remove(path: Path) -> None:
    if path.exists() or path.is_symlink():
        shutil.rmtree(path, ignore_errors=False)


def _install(tree: KernelTree, work: Path, final: Path) -> KernelTree:
    """Move the finished tree from ``work`` to ``final`` and record it."""
    _remove(final)
    work.rename(final)
    tree = _relocate(tree, work, final)
    (final / META).write_text(tree.to_json())
    return tree


def _relocate(tree: KernelTree, old: Path, new: Path) -> KernelTree:
    def move(p: Path) -> Path:
        return new / p.relative_to(old)

    tree.kdir = move(tree.kdir)
    if tree.chroot is not None:
        tree.chroot = move(tree.chroot)
    else:
        tree.make_kdir = str(tree.kdir)
    return tree


# --------------------------------------------------------------------------- headers


def _headers_of(meta: str, release: str, version: str | None = None) -> str:
    """The ``linux-headers-<abi>`` package ``meta`` (``linux-headers-arm64-16k``) names."""
    flavour = meta.removeprefix("linux-headers-")
    for dep in debian.depends(meta, release, version=version):
        if dep.startswith("linux-headers-") and dep.endswith(f"-{flavour}") and dep != meta:
            return dep
    raise FetchError(f"{meta} in Debian {release} names no linux-headers-<abi>-{flavour}")


def _download_headers(spec: Line, flavour: Arch, say: Progress) -> tuple[debian.Deb, str]:
    """The newest ``linux-headers-<abi>-<flavour>`` the mirror serves, and the newer
    package it listed but could not serve ("" when none): a security archive's pool
    may lack a file its lists name, then the release's own suite has an older one."""
    release = _apt_release(spec.release, flavour)
    meta = f"linux-headers-{flavour.name}"
    skipped = ""
    for version in debian.versions(meta, release, say):
        headers = _headers_of(meta, release, version)
        try:
            (deb,) = debian.download([headers], release, say)
        except FetchError as exc:
            if " 404 " not in str(exc):
                raise
            say(f"{headers} is listed but not served by the mirror (404): trying an older one")
            skipped = skipped or headers
            continue
        return deb, skipped
    raise FetchError(f"no {meta} in Debian {release} could be downloaded (404 for {skipped})")


def _support_packages(headers: debian.Deb, release: str) -> tuple[str, str]:
    """The headers' ``-common`` and ``linux-kbuild-*`` packages (same version)."""
    deps = debian.depends(headers.name, release, version=headers.version)
    common = [d for d in deps if d.startswith("linux-headers-") and d.endswith("-common")]
    kbuild = [d for d in deps if d.startswith("linux-kbuild-")]
    if not common or not kbuild:
        raise FetchError(
            f"{headers.name} {headers.version} in Debian {release} does not depend on "
            "a -common and a linux-kbuild package"
        )
    return common[0], kbuild[0]


#: ``gcc-12`` or ``$(CROSS_COMPILE)gcc-12`` in the headers' Makefile and .kernelvariables.
_COMPILER = re.compile(r"(\$\(CROSS_COMPILE\))?(gcc-\d+)")


def compilers(kdir: Path, cross: str = "") -> list[str]:
    """The compilers the headers in ``kdir`` name (``aarch64-linux-gnu-gcc-12`` when
    ``cross`` is the tree's CROSS_COMPILE)."""
    found: list[str] = []
    for name in ("Makefile", ".kernelvariables"):
        path = kdir / name
        words = path.read_text().split() if path.is_file() else []
        for word in words:
            match = _COMPILER.fullmatch(word)
            if match:
                compiler = (cross if match.group(1) else "") + match.group(2)
                found += [compiler] if compiler not in found else []
    return found


def compiler_package(compiler: str) -> str:
    """A compiler's Debian package (``aarch64-linux-gnu-gcc-12``: ``gcc-12-aarch64-linux-gnu``)."""
    triplet, _, gcc = compiler.rpartition("-gcc-")
    return f"gcc-{gcc}-{triplet}" if triplet else compiler


# --------------------------------------------------------------------------- debs


def _fetch_debs(
    line: str, spec: Line, root: Path, say: Progress, flavour: Arch = ARCHES[DEFAULT_ARCH]
) -> KernelTree:
    headers, skipped = _download_headers(spec, flavour, say)
    common, _kbuild = _support_packages(headers, _apt_release(spec.release, flavour))
    # -common is arch-independent; linux-kbuild's programs must run here: both
    # come from this machine's architecture, at the headers' version.
    wanted = [f"{common}={headers.version}", f"{spec.kbuild}={headers.version}"]
    debs = [headers, *debian.download(wanted, spec.release, say)]
    for deb in debs:
        say(f"unpacking {deb.path.name}")
        debian.unpack(deb, root)
    kdir = root / "usr" / "src" / headers.name
    _relativize_makefile(kdir / "Makefile")
    _check_compiler(kdir, flavour.cross)
    abi = headers.name.removeprefix("linux-headers-")
    return KernelTree(
        line, spec.release, abi, headers.version, kdir, str(kdir),
        arch=flavour.name, skipped=skipped,
    )  # fmt: skip


def _relativize_makefile(makefile: Path) -> None:
    """``include /usr/src/X/Makefile`` -> ``include ../X/Makefile`` (make runs in kdir)."""
    text = makefile.read_text()
    fixed = text.replace("include /usr/src/", "include ../")
    if fixed == text:
        raise FetchError(f"unexpected Debian headers Makefile (no /usr/src include): {makefile}")
    makefile.write_text(fixed)


def _check_compiler(kdir: Path, cross: str = "") -> None:
    """The extracted tree uses the host compiler named in ``.kernelvariables``."""
    for compiler in compilers(kdir, cross):
        if shutil.which(compiler) is None:
            raise ToolMissingError(
                f"the kernel headers in {kdir} are built with {compiler}, which is not "
                f"installed; install it with: apt-get install {compiler_package(compiler)}"
            )


# --------------------------------------------------------------------------- chroot


def _require_root(line: str) -> None:
    if os.geteuid() != 0:
        raise FetchError(
            f"kernel {line} is provisioned as a debootstrap chroot, which needs root; "
            "run `xbgen kernels fetch` as root (e.g. with sudo)"
        )
    for tool, package in (("debootstrap", "debootstrap"), ("unshare", "util-linux")):
        if shutil.which(tool) is None:
            raise ToolMissingError(
                f"`{tool}` is not installed; install it with: apt-get install {package}"
            )


def chroot_command(
    root: Path, argv: Sequence[str], binds: dict[Path, str] | None = None
) -> list[str]:
    """Run ``argv`` in chroot ``root`` in a private mount namespace with /proc (and binds).

    The mounts vanish with the namespace, so nothing is left mounted on exit.
    """
    script = ['set -e; root="$1"; shift', 'mount -t proc proc "$root/proc"']
    args: list[str] = [str(root)]
    for index, (src, dest) in enumerate((binds or {}).items()):
        script.append(f'mkdir -p "$root{dest}"; mount --bind "${{{index + 1}}}" "$root{dest}"')
        args.append(str(src))
    script.append(f"shift {len(binds or {})}")
    script.append('exec chroot "$root" "$@"')
    return [
        "unshare", "--mount", "--propagation", "private", "--",
        "sh", "-c", "; ".join(script), "xbgen-chroot", *args, *argv,
    ]  # fmt: skip


def chroot_env() -> dict[str, str]:
    return {
        "PATH": CHROOT_PATH,
        "HOME": "/root",
        "LC_ALL": "C",
        "DEBIAN_FRONTEND": "noninteractive",
    }


def _run(cmd: Sequence[str], what: str, say: Progress, env: dict[str, str] | None = None) -> str:
    started = time.monotonic()
    proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr + proc.stdout).strip().splitlines()[-12:])
        raise FetchError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    say(f"{what}: done in {time.monotonic() - started:.0f}s")
    return proc.stdout


def _fetch_chroot(
    line: str, spec: Line, work: Path, say: Progress, flavour: Arch = ARCHES[DEFAULT_ARCH]
) -> KernelTree:
    _require_root(line)
    root = work
    cross = _download_headers(spec, flavour, say) if flavour.cross else None
    _debootstrap(spec.release, root, say)
    _configure_apt(spec.release, root)
    in_chroot = ["apt-get", "-q", "-y", "--no-install-recommends"]
    env = chroot_env()
    _run(chroot_command(root, [*in_chroot, "update"]), f"[{line}] apt-get update", say, env)
    if cross is None:
        packages = ["linux-headers-amd64"]
    else:
        packages = _cross_packages(root, spec, flavour, cross[0])
    _run(
        chroot_command(root, [*in_chroot, "install", *packages]),
        f"[{line}] apt-get install {' '.join(packages)}",
        say,
        env,
    )
    _run(chroot_command(root, ["apt-get", "clean"]), f"[{line}] apt-get clean", say, env)
    (root / BUILD_MOUNT.lstrip("/")).mkdir(exist_ok=True)
    if cross is not None:
        headers, skipped = cross
        abi = headers.name.removeprefix("linux-headers-")
        kdir = root / "usr" / "src" / headers.name
        return KernelTree(
            line, spec.release, abi, headers.version, kdir, f"/usr/src/{headers.name}",
            chroot=root, arch=flavour.name, skipped=skipped,
        )  # fmt: skip
    abi, version = _chroot_headers(root)
    kdir = root / "usr" / "src" / f"linux-headers-{abi}"
    make_kdir = f"/lib/modules/{abi}/build"
    return KernelTree(line, spec.release, abi, version, kdir, make_kdir, chroot=root)


def _cross_packages(root: Path, spec: Line, flavour: Arch, headers: debian.Deb) -> list[str]:
    """Unpack the foreign headers into ``root``; what apt must install beside them there:
    their ``-common`` and this machine's ``linux-kbuild`` (same version) and the
    cross compiler the headers name.

    Only ``/usr/src/linux-headers-<abi>`` is taken: unpacked over the chroot, the
    package's ``/lib/modules`` would replace a merged-/usr ``/lib`` link.
    """
    staging = root / "tmp" / "xbgen-headers"
    debian.unpack(headers, staging)
    (staging / "usr" / "src" / headers.name).rename(root / "usr" / "src" / headers.name)
    _remove(staging)
    common, kbuild = _support_packages(headers, _apt_release(spec.release, flavour))
    names = [
        compiler_package(c) for c in compilers(root / "usr" / "src" / headers.name, flavour.cross)
    ]
    if not names:
        raise FetchError(f"{headers.name} names no gcc-N compiler in its Makefile")
    return [f"{common}={headers.version}", f"{kbuild}={headers.version}", *names]


def _debootstrap(release: str, root: Path, say: Progress) -> None:
    suite = debian.suite_of(release)
    cmd = [
        "debootstrap", "--variant=minbase", f"--include={','.join(CHROOT_PACKAGES)}",
        f"--keyring={debian.KEYRING}", suite, str(root), debian.mirror(),
    ]  # fmt: skip
    say(f"debootstrap {suite} (minbase) into {root}")
    _run(cmd, f"debootstrap {suite}", say)


def _configure_apt(release: str, root: Path) -> None:
    sources = root / "etc" / "apt" / "sources.list"
    sources.write_text(
        debian.release_sources(release).replace(f"[signed-by={debian.KEYRING}] ", "") + "\n"
    )
    conf = ['APT::Install-Recommends "false";', 'Acquire::Languages "none";']
    if release in debian.NO_VALID_UNTIL:
        conf.append('Acquire::Check-Valid-Until "false";')
    (root / "etc" / "apt" / "apt.conf.d" / "99xbgen").write_text("\n".join(conf) + "\n")


def _chroot_headers(root: Path) -> tuple[str, str]:
    """(abi, headers package version) of the headers installed in ``root``."""
    status = (root / "var" / "lib" / "dpkg" / "status").read_text()
    for stanza in status.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        name = fields.get("Package", "")
        if (
            name.startswith("linux-headers-")
            and name.endswith("-amd64")
            and name != "linux-headers-amd64"
        ):
            return name.removeprefix("linux-headers-"), fields.get("Version", "")
    raise FetchError(f"no linux-headers-<abi>-amd64 package got installed in {root}")


# --------------------------------------------------------------------------- several lines


def wanted_lines(lines: Sequence[str], arch: str = DEFAULT_ARCH) -> list[str]:
    """The lines ``lines`` names (none, or ``all``: every line ``arch`` has); raises on an
    unknown one, or one Debian ships no ``arch`` headers for."""
    wanted = list(_arch(arch).lines) if list(lines) in ([], ["all"]) else list(lines)
    for line in wanted:
        _line(line, arch)
    return wanted


@dataclass(frozen=True)
class LineStatus:
    """A supported kernel line and arch, its Debian release and its cached tree
    (``None``: not fetched)."""

    line: str
    release: str
    tree: KernelTree | None
    arch: str = DEFAULT_ARCH


def fetch_lines(
    lines: Sequence[str], progress: Progress | None = None, *, arch: str = DEFAULT_ARCH
) -> list[LineStatus]:
    """``xbgen kernels fetch LINE... [--arch A]``: the trees of :func:`wanted_lines`,
    fetched in parallel."""
    trees = fetch_many(wanted_lines(lines, arch), progress, arch=arch)
    return [LineStatus(line, LINES[line].release, tree, arch) for line, tree in trees.items()]


def status() -> list[LineStatus]:
    """``xbgen kernels list``: every supported line and arch, and its cached tree."""
    return [
        LineStatus(line, LINES[line].release, find(line, arch), arch)
        for arch, flavour in ARCHES.items()
        for line in flavour.lines
    ]
