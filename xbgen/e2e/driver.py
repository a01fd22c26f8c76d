"""The driver under test: a generated tree, its built modules and its scripts."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from xbgen import build
from xbgen.errors import BuildError, E2EError, UsageError
from xbgen.kernels import KernelTree


@dataclass(frozen=True)
class Driver:
    """Built modules and the generated plug/unplug scripts of one device."""

    devtype: str
    devid: str
    front_ko: Path
    back_ko: Path
    activate: Path
    deactivate: Path
    build_seconds: float

    @property
    def front_mod(self) -> str:
        return self.front_ko.stem

    @property
    def back_mod(self) -> str:
        return self.back_ko.stem


def locate_tree(tree_dir: Path) -> Path:
    """``DIR`` itself when it holds frontend/ and backend/, else its only such child."""
    if _is_tree(tree_dir):
        return tree_dir
    found = (
        [d for d in sorted(tree_dir.iterdir()) if d.is_dir() and _is_tree(d)]
        if (tree_dir.is_dir())
        else []
    )
    if len(found) != 1:
        raise UsageError(
            f"{tree_dir} is not a generated driver tree (want frontend/, backend/, activate.sh)"
        )
    return found[0]


def _is_tree(path: Path) -> bool:
    return all((path / part).exists() for part in ("frontend", "backend", "activate.sh"))


def script_setting(script: Path, name: str) -> str:
    """The value a generated script assigns to ``name`` (``type=``, ``devid=${2:-N}``)."""
    match = re.search(rf"^{name}=(\S+)", script.read_text(), re.M)
    if not match:
        raise E2EError(f"{script} sets no {name}=: is it a generated xbgen script?")
    value = match.group(1)
    default = re.fullmatch(r"\$\{\d+:-([^}]*)\}", value)
    return default.group(1) if default else value


def prepare(tree_dir: Path, kernel: KernelTree, work: Path) -> Driver:
    """Copy the tree into ``work``, build it against ``kernel``, describe the result."""
    src = locate_tree(tree_dir)
    copy = work / "driver" / src.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("*.ko", "*.o", ".*.cmd"))
    backend_domid = script_setting(copy / "activate.sh", "backend_domid")
    if backend_domid != "0":
        raise E2EError(
            f"the e2e run puts the backend in dom0, but this tree's backend_domid is "
            f"{backend_domid}: test a spec with backend_domid = 0"
        )
    started = time.monotonic()
    _build(copy, kernel)
    seconds = time.monotonic() - started
    return Driver(
        devtype=script_setting(copy / "activate.sh", "type"),
        devid=script_setting(copy / "activate.sh", "devid"),
        front_ko=_one_ko(copy / "frontend"),
        back_ko=_one_ko(copy / "backend"),
        activate=copy / "activate.sh",
        deactivate=copy / "deactivate.sh",
        build_seconds=seconds,
    )


def _one_ko(folder: Path) -> Path:
    kos = sorted(folder.glob("*.ko"))
    if len(kos) != 1:
        raise BuildError(f"expected one .ko in {folder}, found {len(kos)}")
    return kos[0]


def _build(tree: Path, kernel: KernelTree) -> None:
    """xbgen's own build step (raises BuildFailedError with the diagnostics)."""
    result = build.build_modules(tree, kernel)
    if not result.ok:  # pragma: no cover - build_modules raises first
        raise BuildError(f"building {tree} failed:\n{result.log[-2000:]}")
