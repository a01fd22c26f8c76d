"""Run the kernel's ``checkpatch.pl`` on generated sources.

checkpatch.pl and the data files it reads (``spelling.txt``,
``const_structs.checkpatch``) are taken from Debian's ``linux-source-6.1``
package: only these three files are extracted from its source tarball, into
``<cache>/checkpatch/<version>/``, and reused on later runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from xbgen import debian
from xbgen.debian import Progress, quiet
from xbgen.diagnostic import Diagnostic
from xbgen.errors import FetchError, ToolMissingError

SOURCE_PACKAGE = "linux-source-6.1"
RELEASE = "bookworm"
FILES = ("checkpatch.pl", "spelling.txt", "const_structs.checkpatch")
# --terse --show-types: "FILE:LINE: WARNING:TYPE: message"
_TERSE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+): "
    r"(?P<sev>ERROR|WARNING|CHECK):(?P<type>[A-Z_0-9]+): (?P<msg>.*)$"
)
SEVERITY = {"ERROR": "error", "WARNING": "warning", "CHECK": "check"}


def _installed(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def fetch(progress: Progress | None = None) -> Path:
    """Path of ``checkpatch.pl`` from ``linux-source-6.1``, extracted once into the cache."""
    say = progress or quiet
    version = debian.candidate(SOURCE_PACKAGE, RELEASE, say)
    folder = debian.cache_dir() / "checkpatch" / version
    if _installed(folder):
        return folder / "checkpatch.pl"
    started = time.monotonic()
    (deb,) = debian.download([SOURCE_PACKAGE], RELEASE, say)
    say(f"extracting {', '.join(FILES)} from {deb.path.name}")
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _extract(deb.path, tmp)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    deb.path.unlink()  # 130 MB; only the three extracted files are needed
    say(f"checkpatch.pl ready in {time.monotonic() - started:.0f}s: {folder}")
    return folder / "checkpatch.pl"


def _extract(deb: Path, dest: Path) -> None:
    """Stream deb -> source tarball -> the three scripts/ files, without unpacking the rest."""
    tarball = f"./usr/src/{SOURCE_PACKAGE}.tar.xz"
    members = [f"{SOURCE_PACKAGE}/scripts/{name}" for name in FILES]
    pipeline = (
        f"dpkg-deb --fsys-tarfile '{deb}' | tar -xO '{tarball}' | "
        f"tar -xJ -C '{dest}' --strip-components=2 {' '.join(members)}"
    )
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipeline], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0 or not _installed(dest):
        raise FetchError(f"could not extract checkpatch.pl from {deb}:\n{proc.stderr.strip()}")


def run(
    files: Sequence[Path], root: Path | None = None, progress: Progress | None = None
) -> list[Diagnostic]:
    """``checkpatch.pl --strict --no-tree --file`` on ``files``; every ERROR/WARNING/CHECK.

    Severities: ``error`` (ERROR), ``warning`` (WARNING), ``check`` (CHECK, --strict).

    File names in the diagnostics are relative to ``root`` when given.
    """
    if shutil.which("perl") is None:
        raise ToolMissingError("`perl` is not installed; install it with: apt-get install perl")
    script = fetch(progress)
    diags: list[Diagnostic] = []
    for path in files:
        diags += _run_one(script, Path(path), root)
    return diags


def _run_one(script: Path, path: Path, root: Path | None) -> list[Diagnostic]:
    cmd = ["perl", str(script), "--strict", "--no-tree", "--terse", "--no-summary",
           "--show-types", "--file", str(path)]  # fmt: skip
    # cwd without .git and GIT_DIR unset: checkpatch must not read the caller's git repo
    env = {**os.environ, "GIT_DIR": str(script.parent / "no-git")}
    proc = subprocess.run(
        cmd, capture_output=True, text=True, check=False, cwd=script.parent, env=env
    )
    name = str(path.relative_to(root)) if root else str(path)
    diags = [_diagnostic(m, name) for line in proc.stdout.splitlines() if (m := _TERSE.match(line))]
    if proc.returncode != 0 and not diags:
        raise FetchError(f"checkpatch.pl failed on {path}: {proc.stderr.strip() or proc.stdout}")
    return diags


def _diagnostic(match: re.Match[str], name: str) -> Diagnostic:
    severity = SEVERITY[match.group("sev")]
    message = f"{match.group('type')}: {match.group('msg')}"
    line = int(match.group("line"))
    return Diagnostic(name, line, message=message, severity=severity, tool="checkpatch")
