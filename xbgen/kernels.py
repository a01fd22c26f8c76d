"""Provision Debian kernel build trees for the kernel lines xbgen supports.

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
    inside it. Builds run in it under ``unshare --mount`` with ``/proc``
    mounted and the driver tree bind-mounted (see :mod:`xbgen.build`). Needs
    root (debootstrap, mount, chroot).

A tree is built in a temporary folder and renamed into place only when
complete, and described by ``tree.json``; later runs reuse it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
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

    @property
    def image_package(self) -> str:
        """The Debian package with the kernel image these headers belong to."""
        return f"linux-image-{self.abi}"

    def to_json(self) -> str:
        data = asdict(self)
        data["kdir"] = str(self.kdir)
        data["chroot"] = str(self.chroot) if self.chroot else None
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> KernelTree:
        data = json.loads(text)
        data["kdir"] = Path(data["kdir"])
        data["chroot"] = Path(data["chroot"]) if data["chroot"] else None
        return cls(**data)


def _line(line: str) -> Line:
    if line not in LINES:
        raise FetchError(f"unknown kernel line {line!r}; supported: {', '.join(LINES)}")
    return LINES[line]


def line_dir(line: str) -> Path:
    _line(line)
    return debian.cache_dir() / "kernels" / line


def find(line: str) -> KernelTree | None:
    """The cached tree for ``line``, or ``None`` when it was never fetched."""
    meta = line_dir(line) / "root" / META
    if not meta.is_file():
        return None
    tree = KernelTree.from_json(meta.read_text())
    return tree if tree.kdir.is_dir() else None


def fetch(line: str, progress: Progress | None = None, *, refresh: bool = True) -> KernelTree:
    """Provision (or reuse) the build tree for ``line``.

    With ``refresh`` a cached tree is replaced when Debian's ``linux-headers-amd64``
    has moved to another ABI (the old ``linux-image-<abi>`` leaves the archive then).
    """
    say = progress or quiet
    found = find(line)
    if found is not None and (not refresh or is_current(found, say)):
        return found
    with debian.locked(line_dir(line) / ".lock"):
        again = find(line)
        if again is not None and (again != found or not refresh):
            return again
        return _provision(line, say)


def is_current(tree: KernelTree, progress: Progress | None = None) -> bool:
    """Whether ``tree`` still has the ABI Debian ships for its release (offline: assume so)."""
    say = progress or quiet
    try:
        latest = debian.resolve("linux-headers-amd64", tree.release, say)
    except FetchError as exc:
        say(f"could not check for newer {tree.line} headers: {exc}")
        return True
    if latest == f"linux-headers-{tree.abi}":
        return True
    say(f"Debian {tree.release} moved from {tree.abi} to {latest}")
    return False


def _provision(line: str, say: Progress) -> KernelTree:
    spec = _line(line)
    started = time.monotonic()
    say(f"provisioning kernel {line} build tree from Debian {spec.release} ({spec.method})")
    work = line_dir(line) / f"tmp-{os.getpid()}"
    _remove(work)
    try:
        if spec.method == "debs":
            tree = _fetch_debs(line, spec, work, say)
        else:
            tree = _fetch_chroot(line, spec, work, say)
        tree = _install(tree, work, line_dir(line) / "root")
    finally:
        _remove(work)
    say(f"kernel {line} ({tree.abi}) ready in {time.monotonic() - started:.0f}s: {tree.kdir}")
    return tree


def fetch_many(lines: Sequence[str], progress: Progress | None = None) -> dict[str, KernelTree]:
    """Fetch several lines in parallel (downloads are IO-bound)."""
    with ThreadPoolExecutor(max_workers=max(1, len(lines))) as pool:
        futures = {line: pool.submit(fetch, line, progress) for line in lines}
        return {line: fut.result() for line, fut in futures.items()}


def list_trees() -> list[tuple[str, KernelTree | None]]:
    """Every supported line with its cached tree (or ``None``)."""
    return [(line, find(line)) for line in LINES]


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


# --------------------------------------------------------------------------- debs


def _fetch_debs(line: str, spec: Line, root: Path, say: Progress) -> KernelTree:
    headers = debian.resolve("linux-headers-amd64", spec.release, say)
    abi = headers.removeprefix("linux-headers-")
    common = _common_package(headers, spec.release, say)
    debs = debian.download([headers, common, spec.kbuild], spec.release, say)
    for deb in debs:
        say(f"unpacking {deb.path.name}")
        debian.unpack(deb, root)
    kdir = root / "usr" / "src" / headers
    _relativize_makefile(kdir / "Makefile")
    _check_compiler(kdir)
    version = debs[0].version
    return KernelTree(line, spec.release, abi, version, kdir, str(kdir))


def _common_package(headers: str, release: str, say: Progress) -> str:
    for dep in debian.depends(headers, release, say):
        if dep.startswith("linux-headers-") and dep.endswith("-common"):
            return dep
    raise FetchError(f"{headers} in Debian {release} does not depend on a -common package")


def _relativize_makefile(makefile: Path) -> None:
    """``include /usr/src/X/Makefile`` -> ``include ../X/Makefile`` (make runs in kdir)."""
    text = makefile.read_text()
    fixed = text.replace("include /usr/src/", "include ../")
    if fixed == text:
        raise FetchError(f"unexpected Debian headers Makefile (no /usr/src include): {makefile}")
    makefile.write_text(fixed)


def _check_compiler(kdir: Path) -> None:
    """The extracted tree uses the host compiler named in ``.kernelvariables``."""
    variables = (kdir / ".kernelvariables").read_text()
    for word in variables.split():
        if word.startswith("gcc-") or word.endswith(")gcc-12"):
            compiler = word.rsplit(")", 1)[-1]
            if shutil.which(compiler) is None:
                raise ToolMissingError(
                    f"the kernel headers in {kdir} are built with {compiler}, which is not "
                    f"installed; install it with: apt-get install {compiler}"
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


def _fetch_chroot(line: str, spec: Line, work: Path, say: Progress) -> KernelTree:
    _require_root(line)
    root = work
    _debootstrap(spec.release, root, say)
    _configure_apt(spec.release, root)
    in_chroot = ["apt-get", "-q", "-y", "--no-install-recommends"]
    env = chroot_env()
    _run(chroot_command(root, [*in_chroot, "update"]), f"[{line}] apt-get update", say, env)
    _run(
        chroot_command(root, [*in_chroot, "install", "linux-headers-amd64"]),
        f"[{line}] apt-get install linux-headers-amd64",
        say,
        env,
    )
    _run(chroot_command(root, ["apt-get", "clean"]), f"[{line}] apt-get clean", say, env)
    abi, version = _chroot_headers(root)
    (root / BUILD_MOUNT.lstrip("/")).mkdir(exist_ok=True)
    kdir = root / "usr" / "src" / f"linux-headers-{abi}"
    make_kdir = f"/lib/modules/{abi}/build"
    return KernelTree(line, spec.release, abi, version, kdir, make_kdir, chroot=root)


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


def wanted_lines(lines: Sequence[str]) -> list[str]:
    """The lines ``lines`` names (none, or ``all``: every line); raises on an unknown one."""
    wanted = list(LINES) if list(lines) in ([], ["all"]) else list(lines)
    for line in wanted:
        _line(line)
    return wanted


@dataclass(frozen=True)
class LineStatus:
    """A supported kernel line, its Debian release and its cached tree (``None``: not fetched)."""

    line: str
    release: str
    tree: KernelTree | None


def fetch_lines(lines: Sequence[str], progress: Progress | None = None) -> list[LineStatus]:
    """``xbgen kernels fetch LINE...``: the trees of :func:`wanted_lines`, fetched in parallel."""
    trees = fetch_many(wanted_lines(lines), progress)
    return [LineStatus(line, LINES[line].release, tree) for line, tree in trees.items()]


def status() -> list[LineStatus]:
    """``xbgen kernels list``: every supported line and its cached tree."""
    return [LineStatus(line, LINES[line].release, tree) for line, tree in list_trees()]
