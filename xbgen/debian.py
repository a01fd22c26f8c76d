"""Download and unpack Debian packages without installing them.

Every release gets its own private apt state under the xbgen cache
(``<cache>/apt/<release>/``): a sources list, package lists and an archive
cache.  Another architecture's packages (``arch="arm64"`` on an amd64 host)
get a state of their own (``<cache>/apt/<release>-<arch>/``), whose lists
hold only that architecture's packages (and ``all``).  apt-get and
apt-cache are pointed at it with ``-o`` options, so the machine's own apt
configuration is never read for sources nor written.

The mirror is ``$XBGEN_DEBIAN_MIRROR`` (the CLI's ``--mirror`` sets it) or
else the one this machine already uses (read from ``/etc/apt/sources.list``
and ``/etc/apt/sources.list.d/``); there is no built-in default, so a machine
without either gets a clear error instead of a host name nobody chose.
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


# --------------------------------------------------------------------------- apt state


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissingError(
            f"`{tool}` is not installed; install it with: apt-get install {package}"
        )
    return path


@cache
def native_arch() -> str:
    """This machine's Debian architecture (``dpkg --print-architecture``)."""
    tool = _require("dpkg", "dpkg")
    return _run([tool, "--print-architecture"], "dpkg --print-architecture").strip()


def _foreign(arch: str | None) -> str | None:
    """``arch`` when it is not this machine's own, else None."""
    return arch if arch and arch != native_arch() else None


def _state_dir(release: str, arch: str | None = None) -> Path:
    if release not in RELEASES:
        known = ", ".join(sorted(RELEASES))
        raise FetchError(f"unknown Debian release {release!r}; known: {known}")
    foreign = _foreign(arch)
    return cache_dir() / "apt" / (f"{release}-{foreign}" if foreign else release)


def apt_options(release: str, arch: str | None = None) -> list[str]:
    """``-o`` options that point apt at the private state for ``release``
    (and ``arch``'s packages: default this machine's)."""
    state = _state_dir(release, arch)
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
    if os.geteuid() == 0:
        opts["APT::Sandbox::User"] = "root"
    if release in NO_VALID_UNTIL:
        opts["Acquire::Check-Valid-Until"] = "false"
    if release in DEFAULT_RELEASE:
        opts["APT::Default-Release"] = DEFAULT_RELEASE[release]
    foreign = _foreign(arch)
    if foreign:
        opts["APT::Architecture"] = foreign
        opts["APT::Architectures"] = foreign
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


def apt_lists(release: str, progress: Progress | None = None, arch: str | None = None) -> Path:
    """Private package lists for ``release`` (``arch``'s packages), updated
    once a day; returns the lists dir."""
    state = _state_dir(release, arch)
    lists = state / "lists"
    if _lists_fresh(lists):
        return lists
    with locked(state / ".lock"):
        if not _lists_fresh(lists):
            _update_lists(release, state, progress, arch)
    return lists


def _update_lists(
    release: str, state: Path, progress: Progress | None, arch: str | None = None
) -> None:
    lists = state / "lists"
    apt_get = _require("apt-get", "apt")
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "sources.list").write_text(release_sources(release) + "\n")
    what = f"{release} ({arch})" if _foreign(arch) else release
    (progress or stderr_progress)(f"updating package lists for {what} from {mirror()}")
    _run([apt_get, *apt_options(release, arch), "-q", "update"], f"apt-get update for {what}")
    (lists / ".xbgen-updated").touch()


# --------------------------------------------------------------------------- queries


def _apt_cache(
    release: str, *args: str, progress: Progress | None = None, arch: str | None = None
) -> str:
    apt_lists(release, progress, arch)
    tool = _require("apt-cache", "apt")
    return _run(
        [tool, *apt_options(release, arch), *args], f"apt-cache {' '.join(args)} ({release})"
    )


def candidate(
    package: str,
    release: str = "bookworm",
    progress: Progress | None = None,
    arch: str | None = None,
) -> str:
    """The version apt would pick for ``package`` in ``release``.

    ``progress`` (here and in the other queries) hears of a package list
    update; ``arch`` (here and in the others) asks of that architecture's
    packages (default this machine's).
    """
    return candidates([package], release, progress, arch)[package]


def candidates(
    packages: list[str],
    release: str = "bookworm",
    progress: Progress | None = None,
    arch: str | None = None,
) -> dict[str, str]:
    """Candidate versions of several packages with one ``apt-cache policy`` call."""
    out = _apt_cache(release, "policy", *packages, progress=progress, arch=arch)
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
            where = f"{release} for {arch}" if _foreign(arch) else release
            raise FetchError(f"package {package!r} is not available in Debian {where}")
    return found


def _sizes(wanted: list[tuple[str, str]], release: str, arch: str | None = None) -> dict[str, str]:
    """Download sizes of exact versions with one ``apt-cache show`` call."""
    out = _apt_cache(release, "show", *(f"{n}={v}" for n, v in wanted), arch=arch)
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
    arch: str | None = None,
) -> dict[str, str]:
    """The control fields of the candidate version of ``package``."""
    version = candidate(package, release, progress, arch)
    out = _apt_cache(release, "show", f"{package}={version}", progress=progress, arch=arch)
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
    arch: str | None = None,
) -> list[str]:
    """Names in the candidate's Depends (first of each alternative, no versions)."""
    field = show(package, release, progress, arch).get("Depends", "")
    names = [dep.split("|")[0].strip().split(" ")[0] for dep in field.split(",")]
    return [n.split(":")[0] for n in names if n]


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
    roots: list[str],
    release: str = "bookworm",
    progress: Progress | None = None,
    arch: str | None = None,
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
        progress=progress, arch=arch,
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


def debs_dir(release: str, arch: str | None = None) -> Path:
    foreign = _foreign(arch)
    path = cache_dir() / "debs" / (f"{release}-{foreign}" if foreign else release)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _deb_glob(name: str, version: str) -> str:
    return f"{name}_{version.replace(':', '%3a')}_*.deb"


def _cached(name: str, version: str, folder: Path) -> Path | None:
    found = sorted(folder.glob(_deb_glob(name, version)))
    return found[0] if found else None


def _apt_download(specs: list[str], release: str, folder: Path, arch: str | None = None) -> None:
    apt_get = _require("apt-get", "apt")
    cmd = [apt_get, *apt_options(release, arch), "-q", "download", *specs]
    _run(cmd, f"apt-get download {' '.join(specs)} ({release})", cwd=folder)


def download(
    packages: list[str],
    release: str = "bookworm",
    progress: Progress | None = None,
    arch: str | None = None,
) -> list[Deb]:
    """Download the candidate versions of ``packages`` (no dependencies) into the cache.

    Files already in ``<cache>/debs/<release>/`` (``<release>-<arch>/`` for
    another architecture's) are reused. Returns one :class:`Deb` per
    package, in order.
    """
    say = progress or stderr_progress
    apt_lists(release, say, arch)
    folder = debs_dir(release, arch)
    versions = candidates(packages, release, arch=arch)
    wanted = [(name, versions[name]) for name in packages]
    with locked(folder / ".lock"):
        _download_missing(wanted, release, folder, say, arch)
    return [_deb_for(name, version, folder) for name, version in wanted]


def _download_missing(
    wanted: list[tuple[str, str]],
    release: str,
    folder: Path,
    say: Progress,
    arch: str | None = None,
) -> None:
    missing = [(n, v) for n, v in wanted if _cached(n, v, folder) is None]
    if missing:
        sizes = _sizes(missing, release, arch)
        for name, version in missing:
            size = sizes.get(name, "?")
            say(f"downloading {name} {version} ({_human(size)}) from Debian {release}")
        started = time.monotonic()
        _apt_download([f"{n}={v}" for n, v in missing], release, folder, arch)
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
