"""Build a generated driver tree against a kernel build tree with real ``make``.

``build_modules`` runs the tree's top Makefile (both modules) with
``KDIR=<kernel build tree>``, on the host or inside a chroot kernel tree from
:mod:`xbgen.kernels`, and turns gcc / sparse / modpost / objtool / ld output
into :class:`~xbgen.diagnostic.Diagnostic` objects whose file names are relative to the
driver tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xbgen import kernels
from xbgen.debian import Progress
from xbgen.diagnostic import Diagnostic
from xbgen.errors import BuildError, ToolMissingError
from xbgen.kernels import BUILD_MOUNT, KernelTree

JOBS = 2

# file:line[:col]: severity: message      (gcc, sparse, ld with debug info)
_LOCATED = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?\s*"
    r"(?P<sev>warning|error|fatal error|note):\s*(?P<msg>.*)$"
)
# file: severity: message                 (objtool, ld, sparse without a line)
_FILE_ONLY = re.compile(r"^(?P<file>[^\s:][^:]*):\s*(?P<sev>warning|error):\s*(?P<msg>.*)$")
# WARNING: modpost: ...  /  ERROR: modpost: ...
_MODPOST = re.compile(r"^(?P<sev>WARNING|ERROR):\s*modpost:\s*(?P<msg>.*)$")
# warning: ... (kbuild itself, e.g. compiler differs)
_BARE = re.compile(r"^\s*(?P<sev>warning|error):\s*(?P<msg>.*)$")
_MODPOST_FILE = re.compile(r"(?:in |\[)(?P<file>/?[\w./+-]+\.(?:k?o))\b")
_MAKE_DIR = re.compile(r"^make(?:\[\d+\])?: (?P<what>Entering|Leaving) directory '(?P<dir>[^']+)'")
_MAKE_FAIL = re.compile(r"^make(?:\[\d+\])?: \*\*\* (?P<msg>.*)$")
# Kbuild:9: *** unterminated call to function 'call': missing ')'.  Stop.
_MAKEFILE_ERROR = re.compile(
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+): \*\*\* (?P<msg>.*?)\.?\s*Stop\.$"
)


@dataclass
class BuildResult:
    """Outcome of one build; ``ok`` means make succeeded and nothing reported an error."""

    ok: bool
    kernel: str
    warnings: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    notes: list[Diagnostic] = field(default_factory=list)
    modules: list[Path] = field(default_factory=list)
    log: str = ""
    seconds: float = 0.0
    returncode: int = 0

    def summary(self) -> str:
        return (
            f"{self.kernel}: {len(self.errors)} error(s), {len(self.warnings)} warning(s), "
            f"{len(self.modules)} module(s) in {self.seconds:.1f}s"
        )


class BuildFailedError(BuildError):
    """A build failed (or warned under ``werror``); ``result`` has the details."""

    def __init__(self, message: str, result: BuildResult) -> None:
        super().__init__(message)
        self.result = result


# --------------------------------------------------------------------------- kdir


def default_kdir() -> Path:
    """The running kernel's build tree, as a user's ``make`` would use."""
    return Path("/lib/modules") / os.uname().release / "build"


def resolve_kernel(
    kdir: Path | str | None = None,
    kernel: str | None = None,
    progress: Progress | None = None,
    arch: str | None = None,
) -> KernelTree | Path:
    """Pick the build tree: ``--kernel LINE`` and/or ``--arch A`` (a Debian tree, fetched
    if needed; the line defaults to 6.1, the arch to amd64), ``--kdir``, or the default."""
    if kernel is not None or arch is not None:
        line = kernel or kernels.DEFAULT_LINE
        return kernels.fetch(line, progress, arch=arch or kernels.DEFAULT_ARCH)
    path = Path(kdir) if kdir is not None else default_kdir()
    tree = _cached_tree_of(path)
    if tree is not None:
        return tree
    if not (path / "Makefile").is_file():
        raise BuildError(_missing_kdir_message(path, explicit=kdir is not None))
    return path


def _cached_tree_of(path: Path) -> KernelTree | None:
    """The xbgen kernel tree that ``path`` points into (a chroot tree needs the chroot)."""
    for status in kernels.status():
        if status.tree is not None and _same(path, status.tree.kdir):
            return status.tree
    return None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _missing_kdir_message(path: Path, *, explicit: bool) -> str:
    lines = [f"no kernel build tree at {path}"]
    if not explicit:
        lines.append(f"(the headers of the running kernel {os.uname().release} are not installed)")
    lines.append(
        "fetch Debian's headers with `xbgen kernels fetch 6.1` and build with "
        "`xbgen build DIR --kernel 6.1`, or pass --kdir PATH to a kernel build tree"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- make


def make_command(
    tree_dir: Path, kernel: KernelTree | Path, args: Sequence[str]
) -> tuple[list[str], dict[str, str], Path]:
    """(argv, env, directory make sees for the tree) for ``make args`` on ``tree_dir``.

    A cross-built tree (arm64) puts its ``ARCH=`` and ``CROSS_COMPILE=`` on the
    command line: the caller passes nothing else.
    """
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    env.pop("MAKEFLAGS", None)
    if isinstance(kernel, KernelTree) and kernel.chroot is not None:
        argv = ["make", "-C", BUILD_MOUNT, f"KDIR={kernel.make_kdir}", *kernel.make_args, *args]
        cmd = kernels.chroot_command(kernel.chroot, argv, {tree_dir: BUILD_MOUNT})
        return cmd, {**kernels.chroot_env(), **kernel.make_env}, Path(BUILD_MOUNT)
    if isinstance(kernel, KernelTree):
        kdir, extra, tree_args = kernel.make_kdir, kernel.make_env, kernel.make_args
    else:
        kdir, extra, tree_args = str(kernel), {}, []
    argv = ["make", "-C", str(tree_dir), f"KDIR={kdir}", *tree_args, *args]
    return argv, {**env, **extra}, tree_dir


def _run_make(cmd: list[str], env: dict[str, str]) -> tuple[int, str]:
    if shutil.which(cmd[0]) is None:
        raise ToolMissingError(
            f"`{cmd[0]}` is not installed; install it with: apt-get install make"
        )
    proc = subprocess.run(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    return proc.returncode, proc.stdout


def _check_tools(kernel: KernelTree | Path, args: Sequence[str]) -> None:
    in_chroot = isinstance(kernel, KernelTree) and kernel.chroot is not None
    if in_chroot and os.geteuid() != 0:
        raise BuildError(
            f"kernel {kernel_label(kernel)} builds inside a chroot, which needs root; "
            "run as root (e.g. with sudo), or use --kernel 6.1 (host build, no root)"
        )
    wants_sparse = any(re.fullmatch(r"C=[12]", a) for a in args)
    if wants_sparse and in_chroot:
        raise BuildError(
            "sparse (C=1/C=2) is supported on host kernel trees only, e.g. --kernel 6.1"
        )
    if wants_sparse and shutil.which("sparse") is None:
        raise ToolMissingError("`sparse` is not installed; install it with: apt-get install sparse")


def kernel_label(kernel: KernelTree | Path) -> str:
    if isinstance(kernel, KernelTree):
        return f"{kernel.line} ({kernel.abi})"
    return str(kernel)


def build_modules(
    tree_dir: Path,
    kdir: Path | KernelTree | None = None,
    *,
    werror: bool = False,
    extra_make_args: Sequence[str] = (),
    clean: bool = True,
    jobs: int = JOBS,
) -> BuildResult:
    """Build both modules of ``tree_dir``; raise :class:`BuildFailedError` on failure.

    ``clean`` runs ``make clean`` first so every warning is reported again.
    """
    tree_dir = Path(tree_dir).resolve()
    if not (tree_dir / "Makefile").is_file():
        raise BuildError(f"{tree_dir} has no Makefile; is it a tree written by `xbgen new`?")
    kernel = kdir if isinstance(kdir, KernelTree) else resolve_kernel(kdir)
    _check_tools(kernel, extra_make_args)
    if clean:
        cmd, env, _seen = make_command(tree_dir, kernel, ["clean"])
        _run_make(cmd, env)
    started = time.monotonic()
    cmd, env, seen = make_command(tree_dir, kernel, [f"-j{jobs}", *extra_make_args])
    code, log = _run_make(cmd, env)
    result = parse_log(log, tree_dir, seen)
    result.kernel, result.returncode = kernel_label(kernel), code
    result.seconds = time.monotonic() - started
    result.modules = sorted(tree_dir.rglob("*.ko"))
    _judge(result, werror)
    return result


def _judge(result: BuildResult, werror: bool) -> None:
    if result.returncode != 0 and not result.errors:
        result.errors.append(_make_failure(result.log, result.returncode))
    result.ok = result.returncode == 0 and not result.errors
    failed = not result.ok or (werror and result.warnings)
    if failed:
        shown = [*result.errors, *(result.warnings if werror else [])]
        lines = [f"build failed against {result.summary()}", *map(str, shown)]
        raise BuildFailedError("\n".join(lines), result)


def _make_failure(log: str, code: int) -> Diagnostic:
    fails = [m.group("msg") for line in log.splitlines() if (m := _MAKE_FAIL.match(line))]
    message = fails[0] if fails else f"make exited with status {code}"
    return Diagnostic("", 0, message=message, severity="error", tool="make")


# --------------------------------------------------------------------------- parsing


class _PathMapper:
    """Maps paths printed by the build back to the driver tree."""

    def __init__(self, tree_dir: Path, seen: Path) -> None:
        self.tree = tree_dir
        self.seen = str(seen).rstrip("/")
        self.cwd: list[str] = []

    def track(self, line: str) -> bool:
        match = _MAKE_DIR.match(line)
        if not match:
            return False
        if match.group("what") == "Entering":
            self.cwd.append(match.group("dir"))
        elif self.cwd:
            self.cwd.pop()
        return True

    def relative(self, printed: str) -> str:
        path = printed
        if not path.startswith("/") and self.cwd:
            path = os.path.normpath(os.path.join(self.cwd[-1], path))
        if path == self.seen or path.startswith(self.seen + "/"):
            return os.path.relpath(path, self.seen)
        if not path.startswith("/"):
            return self._search(path)
        return path

    def _search(self, rel: str) -> str:
        hits = [p for p in self.tree.rglob(Path(rel).name) if str(p).endswith(rel)]
        return str(hits[0].relative_to(self.tree)) if len(hits) == 1 else rel


def parse_log(log: str, tree_dir: Path, seen: Path | None = None) -> BuildResult:
    """Diagnostics from a kbuild log; ``seen`` is where make saw the tree."""
    mapper = _PathMapper(tree_dir, seen or tree_dir)
    result = BuildResult(ok=True, kernel="", log=log)
    found: set[Diagnostic] = set()
    for raw in log.splitlines():
        if mapper.track(raw):
            continue
        diag = parse_line(raw, mapper)
        if diag is None or diag in found:
            continue
        found.add(diag)
        bucket = {"error": result.errors, "warning": result.warnings}.get(diag.severity)
        (bucket if bucket is not None else result.notes).append(diag)
    return result


def parse_line(line: str, mapper: _PathMapper) -> Diagnostic | None:
    if match := _LOCATED.match(line):
        sev = "error" if match.group("sev") == "fatal error" else match.group("sev")
        tool = "sparse" if _looks_sparse(line) else "gcc"
        file = mapper.relative(match.group("file"))
        line_no, message = int(match.group("line")), match.group("msg")
        return Diagnostic(file, line_no, message=message, severity=sev, tool=tool)
    if match := _MAKEFILE_ERROR.match(line):
        file = mapper.relative(match.group("file"))
        line_no, message = int(match.group("line")), match.group("msg")
        return Diagnostic(file, line_no, message=message, severity="error", tool="make")
    if match := _MODPOST.match(line):
        return _modpost(match.group("sev").lower(), match.group("msg"), mapper)
    if match := _FILE_ONLY.match(line):
        file = mapper.relative(match.group("file"))
        tool = "objtool" if "objtool:" in line else "ld"
        return Diagnostic(
            file, 0, message=match.group("msg"), severity=match.group("sev"), tool=tool
        )
    if match := _BARE.match(line):
        return Diagnostic(
            "", 0, message=match.group("msg"), severity=match.group("sev"), tool="kbuild"
        )
    return None


def _looks_sparse(line: str) -> bool:
    markers = ("was not declared. Should it be static", "incorrect type in", "context imbalance")
    return any(m in line for m in markers) or " sparse:" in line


def _modpost(severity: str, message: str, mapper: _PathMapper) -> Diagnostic:
    match = _MODPOST_FILE.search(message)
    file = mapper.relative(match.group("file")) if match else ""
    return Diagnostic(file, 0, message=message, severity=severity, tool="modpost")


# --------------------------------------------------------------------------- modinfo


def modinfo(module: Path) -> dict[str, list[str]]:
    """``modinfo`` fields of a built ``.ko`` (each key may repeat, e.g. ``alias``)."""
    tool = shutil.which("modinfo") or shutil.which("/sbin/modinfo")
    if tool is None:
        raise ToolMissingError("`modinfo` is not installed; install it with: apt-get install kmod")
    proc = subprocess.run([tool, str(module)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"modinfo {module} failed: {proc.stderr.strip()}")
    fields: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), []).append(value.strip())
    return fields


# --------------------------------------------------------------------------- xbgen build


def run(
    tree_dir: Path,
    kdir: Path | None = None,
    kernel: str | None = None,
    *,
    werror: bool = False,
    progress: Progress | None = None,
    arch: str | None = None,
) -> BuildResult:
    """``xbgen build``: pick the kernel tree (``kernel``'s, for ``arch``, fetched if needed),
    build both modules.

    Raises :class:`BuildFailedError` (its ``result`` has the diagnostics) when
    the build fails, or warns under ``werror``.
    """
    kernel_tree = resolve_kernel(kdir, kernel, progress, arch)
    return build_modules(tree_dir, kernel_tree, werror=werror)
