"""Download and unpack Debian packages without installing them.

Every release gets its own private apt state under the xbgen cache
(``<cache>/apt/<release>/``): a sources list, package lists and an archive
cache. apt-get and apt-cache are pointed at it with ``-o`` options, so the
machine's own apt configuration is never read for sources nor written.

The mirror is ``$XBGEN_DEBIAN_MIRROR`` (the CLI's ``--mirror`` sets it) or
else the one this machine already uses (read from ``/etc/apt/sources.list``
and ``/etc/apt/sources.list.d/``); there is no built-in default, so a machine
without either gets a clear error instead of a host name nobody chose.

A release may name another architecture's packages, ``RELEASE:ARCH``
(``bookworm:arm64``, see :func:`for_arch`): its own state
(``<cache>/apt/bookworm-arm64/``) lists only that architecture's packages
(and the ``all`` ones), and its downloads go to ``<cache>/debs/bookworm-arm64/``.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from xbgen.cache import cache_dir
from xbgen.errors import FetchError, ToolMissingError

Progress = Callable[[str], None]

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
#: Environment variable naming the Debian archive to use (``--mirror`` sets it).
MIRROR_ENV = "XBGEN_DEBIAN_MIRROR"
LIST_MAX_AGE_S = 24 * 3600
# Releases whose Release file may be past its Valid-Until on the mirror.
NO_VALID_UNTIL = frozenset({"sid"})
# Releases whose packages are pinned low (NotAutomatic) and must be preferred.
DEFAULT_RELEASE = {"bookworm-backports": "bookworm-backports"}


@dataclass(frozen=True)
class Deb:
    """One downloaded ``.deb`` file."""

    name: str
    version: str
    path: Path


def quiet(message: str) -> None:
    """The library's progress sink when the caller gives none: says nothing."""


def stderr_progress(message: str) -> None:
    """``xbgen: MESSAGE`` on stderr, for callers that want the CLI's progress lines.

    The line is :func:`xbgen.console.progress`'s: only the console prints.
    """
    from xbgen.console import progress

    progress(message)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created): serializes xbgen processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- mirrors


def _source_files() -> list[Path]:
    files = [Path("/etc/apt/sources.list")]
    parts = Path("/etc/apt/sources.list.d")
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    return [f for f in files if f.is_file()]


def _uris_in(text: str) -> list[str]:
    uris: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("URIs:"):
            uris += line.split()[1:]
        elif line.startswith("deb "):
            words = [w for w in line.split() if not w.startswith("[") and not w.endswith("]")]
            uris += [w for w in words[1:2] if "://" in w]
    return uris


def mirror() -> str:
    """The Debian archive URI to use (e.g. ``http://HOST/debian``).

    ``$XBGEN_DEBIAN_MIRROR`` first, then the machine's apt sources.
    """
    chosen = os.environ.get(MIRROR_ENV, "").strip()
    if chosen:
        return _checked(chosen, MIRROR_ENV)
    found = _apt_mirror()
    if found is None:
        sources = ", ".join(str(p) for p in _source_files()) or "no apt sources files"
        raise FetchError(
            f"no Debian mirror: none of {sources} names a .../debian archive; "
            f"pass --mirror URL or set {MIRROR_ENV}=URL"
        )
    return found


@cache
def _apt_mirror() -> str | None:
    for path in _source_files():
        for uri in _uris_in(path.read_text(errors="replace")):
            if re.search(r"/debian/?$", uri):
                return uri.rstrip("/")
    return None


def _checked(uri: str, where: str) -> str:
    if not re.match(r"^(https?|file)://\S+$", uri):
        raise FetchError(f"{where}={uri!r} is not a URL (want e.g. http://HOST/debian)")
    return uri.rstrip("/")


def use_mirror(uri: str | None) -> None:
    """Make `uri` the mirror for this process and its children (``--mirror``).

    Checked first: a bad URL is an error before any work, and changes nothing.
    """
    if uri:
        os.environ[MIRROR_ENV] = _checked(uri.strip(), "--mirror")


def security_mirror() -> str:
    """The Debian security archive on the same host as :func:`mirror`."""
    return mirror() + "-security"


def _line(uri: str, suite: str) -> str:
    return f"deb [signed-by={KEYRING}] {uri} {suite} main"


def _release_sources() -> dict[str, str]:
    m, sec = mirror(), security_mirror()
    bookworm = [_line(m, "bookworm"), _line(m, "bookworm-updates"), _line(sec, "bookworm-security")]
    return {
        "bullseye": "\n".join(
            [_line(m, "bullseye"), _line(m, "bullseye-updates"), _line(sec, "bullseye-security")]
        ),
        "bookworm": "\n".join(bookworm),
        "bookworm-backports": "\n".join([*bookworm, _line(m, "bookworm-backports")]),
        "trixie": "\n".join(
            [_line(m, "trixie"), _line(m, "trixie-updates"), _line(sec, "trixie-security")]
        ),
        "sid": _line(m, "sid"),
    }


#: The releases xbgen knows (their sources lists come from :func:`release_sources`).
RELEASES: tuple[str, ...] = ("bullseye", "bookworm", "bookworm-backports", "trixie", "sid")


def release_sources(release: str) -> str:
    """The sources.list lines of `release` on the chosen mirror."""
    return _release_sources()[release]


def suite_of(release: str) -> str:
    """The debootstrap suite for a release name (``bookworm-backports`` -> ``bookworm``)."""
    return release.split("-", 1)[0]


def for_arch(release: str, arch: str | None) -> str:
    """``release`` for ``arch``'s packages: ``bookworm:arm64`` (``None``: this machine's)."""
    return f"{release}:{arch}" if arch else release


def _split(release: str) -> tuple[str, str | None]:
    """``bookworm:arm64`` -> ``("bookworm", "arm64")``; ``bookworm`` -> ``("bookworm", None)``."""
    name, _, arch = release.partition(":")
    return name, arch or None


def _folder_name(release: str) -> str:
    name, arch = _split(release)
    return f"{name}-{arch}" if arch else name


# --------------------------------------------------------------------------- apt state


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissingError(
            f"`{tool}` is not installed; install it with: apt-get install {package}"
        )
    return path


def _state_dir(release: str) -> Path:
    name, arch = _split(release)
    if name not in RELEASES:
        known = ", ".join(sorted(RELEASES))
        raise FetchError(f"unknown Debian release {name!r}; known: {known}")
    if arch is not None and not re.fullmatch(r"[a-z0-9]+", arch):
        raise FetchError(f"bad Debian architecture {arch!r} in {release!r}")
    return cache_dir() / "apt" / _folder_name(release)


def apt_options(release: str) -> list[str]:
    """``-o`` options that point apt at the private state for ``release``."""
    state = _state_dir(release)
    opts = {
        "Dir::Etc::SourceList": str(state / "sources.list"),
        "Dir::Etc::SourceParts": "/dev/null",
        "Dir::Etc::Preferences": "/dev/null",
        "Dir::Etc::PreferencesParts": "/dev/null",
        "Dir::State::Lists": str(state / "lists"),
        "Dir::Cache": str(state / "cache"),
        "Dir::State::status": "/dev/null",
        "APT::Get::List-Cleanup": "true",
        "Debug::NoLocking": "true",
    }
    name, arch = _split(release)
    if arch is not None:
        opts["APT::Architecture"] = arch
        opts["APT::Architectures"] = arch
    if os.geteuid() == 0:
        opts["APT::Sandbox::User"] = "root"
    if name in NO_VALID_UNTIL:
        opts["Acquire::Check-Valid-Until"] = "false"
    if name in DEFAULT_RELEASE:
        opts["APT::Default-Release"] = DEFAULT_RELEASE[name]
    return [arg for key, value in opts.items() for arg in ("-o", f"{key}={value}")]


def _run(cmd: Sequence[str], what: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise FetchError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _lists_fresh(lists: Path) -> bool:
    stamp = lists / ".xbgen-updated"
    return stamp.is_file() and time.time() - stamp.stat().st_mtime < LIST_MAX_AGE_S


def apt_lists(release: str, progress: Progress | None = None) -> Path:
    """Private package lists for ``release``, updated once a day; returns the lists dir."""
    state = _state_dir(release)
    lists = state / "lists"
    if _lists_fresh(lists):
        return lists
    with locked(state / ".lock"):
        if not _lists_fresh(lists):
            _update_lists(release, state, progress)
    return lists


def _update_lists(release: str, state: Path, progress: Progress | None) -> None:
    lists = state / "lists"
    apt_get = _require("apt-get", "apt")
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "sources.list").write_text(release_sources(_split(release)[0]) + "\n")
    (progress or stderr_progress)(f"updating package lists for {release} from {mirror()}")
    _run([apt_get, *apt_options(release), "-q", "update"], f"apt-get update for {release}")
    (lists / ".xbgen-updated").touch()


# --------------------------------------------------------------------------- queries


def _apt_cache(release: str, *args: str, progress: Progress | None = None) -> str:
    apt_lists(release, progress)
    tool = _require("apt-cache", "apt")
    return _run([tool, *apt_options(release), *args], f"apt-cache {' '.join(args)} ({release})")


def candidate(package: str, release: str = "bookworm", progress: Progress | None = None) -> str:
    """The version apt would pick for ``package`` in ``release``.

    ``progress`` (here and in the other queries) hears of a package list update.
    """
    return candidates([package], release, progress)[package]


def candidates(
    packages: list[str], release: str = "bookworm", progress: Progress | None = None
) -> dict[str, str]:
    """Candidate versions of several packages with one ``apt-cache policy`` call."""
    out = _apt_cache(release, "policy", *packages, progress=progress)
    found: dict[str, str] = {}
    name = ""
    for line in out.splitlines():
        header = re.match(r"^(\S+):$", line)
        if header:
            name = header.group(1).split(":")[0]
            continue
        match = re.match(r"^\s*Candidate:\s*(\S+)", line)
        if match and name and match.group(1) != "(none)":
            found[name] = match.group(1)
    for package in packages:
        if package not in found:
            raise FetchError(f"package {package!r} is not available in Debian {release}")
    return found


def _sizes(wanted: list[tuple[str, str]], release: str) -> dict[str, str]:
    """Download sizes of exact versions with one ``apt-cache show`` call."""
    out = _apt_cache(release, "show", *(f"{n}={v}" for n, v in wanted))
    sizes: dict[str, str] = {}
    name = ""
    for line in out.splitlines():
        if line.startswith("Package:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("Size:") and name and name not in sizes:
            sizes[name] = line.partition(":")[2].strip()
    return sizes


def show(
    package: str,
    release: str = "bookworm",
    progress: Progress | None = None,
    version: str | None = None,
) -> dict[str, str]:
    """The control fields of ``version`` of ``package`` (default: the candidate)."""
    version = version or candidate(package, release, progress)
    out = _apt_cache(release, "show", f"{package}={version}", progress=progress)
    fields: dict[str, str] = {}
    key = ""
    for line in out.splitlines():
        if not line.strip():
            break
        if line[0].isspace() and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def depends(
    package: str,
    release: str = "bookworm",
    progress: Progress | None = None,
    version: str | None = None,
) -> list[str]:
    """Names in the Depends of ``version`` (default: the candidate), first of each
    alternative, no versions."""
    field = show(package, release, progress, version).get("Depends", "")
    names = [dep.split("|")[0].strip().split(" ")[0] for dep in field.split(",")]
    return [n.split(":")[0] for n in names if n]


def versions(
    package: str, release: str = "bookworm", progress: Progress | None = None
) -> list[str]:
    """Every version of ``package`` the lists of ``release`` hold, newest first."""
    out = _apt_cache(release, "madison", package, progress=progress)
    found: list[str] = []
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) == 3 and cells[0] == package and cells[1] not in found:
            found.append(cells[1])
    if not found:
        raise FetchError(f"package {package!r} is not available in Debian {release}")
    return found


def resolve(package: str, release: str = "bookworm", progress: Progress | None = None) -> str:
    """The concrete package behind a metapackage, else ``package`` itself.

    ``resolve("linux-image-amd64")`` -> ``"linux-image-6.1.0-N-amd64"``: the first
    dependency that shares the metapackage's stem (``linux-image-``).
    """
    stem = package.rsplit("-", 1)[0] + "-"
    for dep in depends(package, release, progress):
        if dep.startswith(stem) and dep != package:
            return dep
    candidate(package, release, progress)  # raises if it does not exist at all
    return package


def library_closure(
    roots: list[str], release: str = "bookworm", progress: Progress | None = None
) -> list[str]:
    """``roots`` and every library they need, recursively, in ``release``.

    One ``apt-cache depends --recurse`` call; from each package only the
    Depends/PreDepends on libraries are followed (``lib*``, ``zlib1g``), the
    first of each alternative, so tools such as python3 and their own
    dependencies stay out.  Virtual packages are skipped.
    """
    out = _apt_cache(
        release, "depends", "--recurse", "--no-recommends", "--no-suggests",
        "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *roots,
        progress=progress,
    )  # fmt: skip
    graph: dict[str, list[str]] = {}
    deps: list[str] = []
    skip_next = False
    for line in out.splitlines():
        if not line.startswith(" "):
            deps = graph.setdefault(line.strip(), [])
            skip_next = False
            continue
        match = re.match(r"^ (\|| )(?:Pre)?Depends: (\S+)", line)
        if match is None:
            continue
        if not skip_next and not match.group(2).startswith("<"):
            deps.append(match.group(2).split(":")[0])
        skip_next = match.group(1) == "|"
    wanted = list(roots)
    for name in wanted:
        for dep in graph.get(name, []):
            if dep not in wanted and (dep.startswith("lib") or dep == "zlib1g"):
                wanted.append(dep)
    return wanted


# --------------------------------------------------------------------------- files


def debs_dir(release: str) -> Path:
    path = cache_dir() / "debs" / _folder_name(release)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _deb_glob(name: str, version: str) -> str:
    return f"{name}_{version.replace(':', '%3a')}_*.deb"


def _cached(name: str, version: str, folder: Path) -> Path | None:
    found = sorted(folder.glob(_deb_glob(name, version)))
    return found[0] if found else None


def _apt_download(specs: list[str], release: str, folder: Path) -> None:
    apt_get = _require("apt-get", "apt")
    cmd = [apt_get, *apt_options(release), "-q", "download", *specs]
    _run(cmd, f"apt-get download {' '.join(specs)} ({release})", cwd=folder)


def download(
    packages: list[str], release: str = "bookworm", progress: Progress | None = None
) -> list[Deb]:
    """Download the candidate versions of ``packages`` (no dependencies) into the cache.

    ``NAME=VERSION`` asks for that version instead.  Files already in
    ``<cache>/debs/<release>/`` are reused. Returns one :class:`Deb` per
    package, in order.
    """
    say = progress or stderr_progress
    apt_lists(release, say)
    folder = debs_dir(release)
    pinned = dict(spec.split("=", 1) for spec in packages if "=" in spec)
    names = [spec.split("=", 1)[0] for spec in packages]
    loose = [name for name in names if name not in pinned]
    found = {**(candidates(loose, release) if loose else {}), **pinned}
    wanted = [(name, found[name]) for name in names]
    with locked(folder / ".lock"):
        _download_missing(wanted, release, folder, say)
    return [_deb_for(name, version, folder) for name, version in wanted]


def _download_missing(
    wanted: list[tuple[str, str]], release: str, folder: Path, say: Progress
) -> None:
    missing = [(n, v) for n, v in wanted if _cached(n, v, folder) is None]
    if missing:
        sizes = _sizes(missing, release)
        for name, version in missing:
            size = sizes.get(name, "?")
            say(f"downloading {name} {version} ({_human(size)}) from Debian {release}")
        started = time.monotonic()
        _apt_download([f"{n}={v}" for n, v in missing], release, folder)
        say(f"downloaded {len(missing)} package(s) in {time.monotonic() - started:.1f}s")


def _deb_for(name: str, version: str, folder: Path) -> Deb:
    path = _cached(name, version, folder)
    if path is None:
        raise FetchError(f"apt-get download left no file for {name} {version} in {folder}")
    return Deb(name, version, path)


def _human(size: str) -> str:
    if not size.isdigit():
        return f"{size} bytes"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return size


def unpack(deb: Deb | Path, root: Path) -> None:
    """Extract a ``.deb``'s files under ``root`` (``dpkg-deb -x``); no maintainer scripts run."""
    path = deb.path if isinstance(deb, Deb) else Path(deb)
    if not path.is_file():
        raise FetchError(f"no such package file: {path}")
    tool = _require("dpkg-deb", "dpkg")
    root.mkdir(parents=True, exist_ok=True)
    _run([tool, "-x", str(path), str(root)], f"dpkg-deb -x {path.name}")
