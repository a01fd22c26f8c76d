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

#: Bytes of a shared ring's header before its slots (Linux's xen/interface/io/ring.h).
SRING_HEADER = 64
XEN_PAGE_SIZE = 4096


@dataclass(frozen=True)
class Ring:
    """The data path of a tree that has one: ring geometry and the self-test."""

    header: Path  # include/NAME_ring.h
    slots: int  # requests one ring holds (the largest ring the backend offers)
    selftest: bool  # the frontend has /sys/kernel/debug/NAME/DEVID/selftest
    #: what a call in flight at a save gets ("fail" or "reissue": ring.on_resume)
    on_resume: str = "fail"
    #: the largest buffer a call carries ([ring.buffer] max), 0 without one
    buffer_max: int = 0

    def buffer_runs(self) -> list[tuple[int, int]]:
        """(size, calls) of the buffer self-tests: 10,000 calls at 4 KiB, at
        64 KiB and at the largest size, at most 1 GiB a size (each way) under TCG."""
        if not self.buffer_max:
            return []
        sizes = sorted({min(s, self.buffer_max) for s in (4096, 65536, self.buffer_max)})
        return [(s, min(10_000, max(100, (1 << 30) // s))) for s in sizes]


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
    ring: Ring | None = None
    #: The spec's backend domain: not 0 for a driver domain.
    backend_domid: int = 0

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
    """The value a generated script assigns to ``name`` (``type=``, the default
    of ``devid=${2:-N}`` or ``backend_domid=${BACKEND_DOMID-N}``)."""
    match = re.search(rf"^{name}=(\S+)", script.read_text(), re.M)
    if not match:
        raise E2EError(f"{script} sets no {name}=: is it a generated xbgen script?")
    value = match.group(1)
    default = re.fullmatch(r"\$\{\w+:?-([^}]*)\}", value)
    return default.group(1) if default else value


def prepare(tree_dir: Path, kernel: KernelTree, work: Path) -> Driver:
    """Copy the tree into ``work``, build it against ``kernel``, describe the result."""
    src = locate_tree(tree_dir)
    copy = work / "driver" / src.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("*.ko", "*.o", ".*.cmd"))
    devtype = script_setting(copy / "activate.sh", "type")
    ring = detect_ring(copy, devtype)
    started = time.monotonic()
    _build(copy, kernel)
    seconds = time.monotonic() - started
    return Driver(
        devtype=devtype,
        devid=script_setting(copy / "activate.sh", "devid"),
        front_ko=_one_ko(copy / "frontend"),
        back_ko=_one_ko(copy / "backend"),
        activate=copy / "activate.sh",
        deactivate=copy / "deactivate.sh",
        build_seconds=seconds,
        ring=ring,
        backend_domid=int(script_setting(copy / "activate.sh", "backend_domid")),
    )


def detect_ring(tree: Path, devtype: str) -> Ring | None:
    """The tree's ring, read from the tree itself: ``include/DEVTYPE_ring.h``.

    ``None`` for a handshake-only tree (no ring header).  The self-test is
    there when a frontend source creates the debugfs file ``selftest``; calls
    are sent again after a resume (``on_resume``) when the frontend's header
    says ``ring.on_resume = "reissue"``.  The
    ring's size is computed as ``__CONST_RING_SIZE`` does, from the header's
    largest ring order and message sizes (its static_asserts), and must agree
    with the "Slots in a ring ..." comment when there is one.
    """
    header = tree / "include" / f"{devtype}_ring.h"
    if not header.is_file():
        return None
    text = header.read_text()
    slots = _ring_slots(text, devtype)
    stated = re.search(r"Slots in a ring of the largest size: (\d+)", text)
    if stated and slots is not None and int(stated.group(1)) != slots:
        raise E2EError(
            f"{header}: the comment says {stated.group(1)} slots, the message sizes give {slots}"
        )
    if slots is None and stated:
        slots = int(stated.group(1))
    if not slots:
        raise E2EError(f"{header}: cannot tell the ring's size (no MAX_RING_ORDER or sizes)")
    selftest = any(
        re.search(r'debugfs_create_file\(\s*"selftest"', c.read_text())
        for c in sorted((tree / "frontend").glob("*.c"))
    )
    on_resume = "fail"
    for h in sorted((tree / "frontend").glob("*.h")):
        said = re.search(r'ring\.on_resume = "(\w+)"', h.read_text())
        if said:
            on_resume = said.group(1)
    buf = re.search(rf"^#define\s+{devtype.upper()}_BUF_MAX\s+(\d+)U?$", text, re.M)
    return Ring(
        header=header,
        slots=slots,
        selftest=selftest,
        on_resume=on_resume,
        buffer_max=int(buf.group(1)) if buf else 0,
    )


def _ring_slots(text: str, devtype: str) -> int | None:
    order = re.search(r"^#define\s+\w+_MAX_RING_ORDER\s+(\d+)", text, re.M)
    sizes = [
        re.search(rf"sizeof\(struct {devtype}_{kind}\)\s*==\s*(\d+)", text)
        for kind in ("request", "response")
    ]
    if order is None or None in sizes:
        return None
    entry = max(int(m.group(1)) for m in sizes if m)
    fit = ((XEN_PAGE_SIZE << int(order.group(1))) - SRING_HEADER) // entry
    return 1 << (fit.bit_length() - 1) if fit else 0


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
