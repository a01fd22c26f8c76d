"""What a model is made of: the tree's C (found as ``xbgen new`` lays it
out), the simulation's C shipped with xbgen, and the configuration the
simulation reads (the device's paths and the toolstack's steps, from the
tree's ``activate.sh`` and ``deactivate.sh``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from xbgen.errors import UsageError

from . import toolstack

#: The guest's domain id in the model.
DOMU = 1


@dataclass(frozen=True)
class Sources:
    """The C a tree's two modules are built from."""

    name: str
    front: tuple[Path, ...]
    back: tuple[Path, ...]
    headers: tuple[Path, ...]  # include/*.h and the modules' own headers

    @property
    def ring(self) -> bool:
        return any(path.stem.endswith("_core") for path in self.front)

    def _header(self, name: str) -> str:
        """The text of the tree's header ``name`` ("" if it has none)."""
        for path in self.headers:
            if path.name == name:
                return path.read_text()
        return ""

    def buffer_max(self) -> int:
        """The ring's largest buffer (``NAME_BUF_MAX``), 0 without [ring.buffer]."""
        text = self._header(f"{self.name}_ring.h")
        m = re.search(rf"^#define\s+{self.name.upper()}_BUF_MAX\s+(\d+)U?$", text, re.M)
        return int(m[1]) if m else 0

    def buffer_transfer(self) -> str | None:
        """How the backend reaches a buffer: ``"map"`` (it keeps persistent
        grants), ``"copy"``, or None without [ring.buffer]."""
        if not self.buffer_max():
            return None
        core = [path for path in self.back if path.name == f"{self.name}back_core.c"]
        text = core[0].read_text() if core else ""
        return "map" if f"{self.name.upper()}BACK_MAX_PGRANTS" in text else "copy"

    def buffer_call(self) -> str | None:
        """How the tree's frontend sends a buffer: ``"send"`` (to the backend
        only: no ``got``), ``"reply"`` (the backend writes back), or None."""
        text = self._header(f"{self.name}front.h")
        head = re.search(rf"int {self.name}front_call_buf\((.*?)\);", text, re.S)
        if head is None:
            return None
        return "reply" if "size_t *got" in head[1] else "send"

    def request_padding(self) -> list[str]:
        """The explicit padding fields of the ring's request (``u8 _padN[K];``)."""
        text = self._header(f"{self.name}_ring.h")
        body = re.search(rf"struct {self.name}_request {{(.*?)\n}};", text, re.S)
        if body is None:
            return []
        return re.findall(r"\bu8 (\w+)\[\d+\];\s*/\* explicit padding", body[1])


def _module_sources(folder: Path, role: str) -> tuple[str, tuple[Path, ...]] | None:
    """The device name and the C files of ``folder``'s module, if it is one xbgen made."""
    # kbuild leaves NAME.mod.c behind: not the driver's source.
    files = tuple(sorted(p for p in folder.glob("*.c") if not p.name.endswith(".mod.c")))
    for path in files:
        match = re.fullmatch(rf"(\w+){role}(_core)?\.c", path.name)
        if match:
            return match.group(1), files
    return None


def tree_sources(tree: Path) -> Sources:
    """The tree's sources; a `UsageError` unless xbgen generated the tree."""
    if not tree.is_dir():
        raise UsageError(f"{tree}: not a directory")
    front = _module_sources(tree / "frontend", "front")
    back = _module_sources(tree / "backend", "back")
    if front is None or back is None or front[0] != back[0]:
        raise UsageError(
            f"{tree}: not a generated tree (want frontend/NAMEfront.c and backend/NAMEback.c, "
            "or NAMEfront_core.c and NAMEback_core.c)"
        )
    for script in ("activate.sh", "deactivate.sh"):
        if not (tree / script).is_file():
            raise UsageError(f"{tree}: {script} is missing")
    headers = tuple(
        sorted(
            path for sub in ("include", "frontend", "backend") for path in (tree / sub).glob("*.h")
        )
    )
    return Sources(front[0], front[1], back[1], headers)


def sim_dir() -> Path:
    """The simulation's C: ``sim.c`` includes every part (see its comment)."""
    return Path(str(resources.files("xbgen.verify").joinpath("sim")))


def sim_files() -> list[Path]:
    """Every C file and header of the simulation, parts in sub-folders included."""
    return sorted(sim_dir().rglob("*.[ch]"))


def config_lines(tree: Path, name: str) -> list[str]:
    """The simulation's configuration for ``tree``, one setting or step a line."""
    activate = (tree / "activate.sh").read_text()
    deactivate = (tree / "deactivate.sh").read_text()
    a_ops = toolstack.extract(activate, "activate.sh", [str(DOMU)])
    d_ops = toolstack.extract(deactivate, "deactivate.sh", [str(DOMU)])
    fe = next((op.args[0] for op in a_ops if op.kind == "write"), None)
    be_writes = [op.args[0] for op in a_ops if op.kind == "write" and "/backend/" in op.args[0]]
    if fe is None or not be_writes:
        raise UsageError(f"{tree / 'activate.sh'}: no xenstore-write of the device directories")
    be = be_writes[0]
    bedom = re.match(r"/local/domain/(\d+)/", be)
    if not bedom:
        raise UsageError(f"{tree / 'activate.sh'}: backend path {be} is not under /local/domain")
    lines = [f"type {name}", f"domu {DOMU}", f"bedom {bedom.group(1)}", f"fe {fe}", f"be {be}"]
    return lines + toolstack.config_lines(a_ops, d_ops)
