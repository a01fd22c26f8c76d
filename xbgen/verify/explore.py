"""``verify()``: check the tree, build its model, explore every configuration
within the bounds, check the properties on the graph, and replay each
violation into a counterexample."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from xbgen.check import check_paths
from xbgen.errors import CheckError, UsageError

from . import model, toolstack
from .compiler import build, features
from .model import Finding
from .results import DEFAULT_BOUNDS, DEFAULT_KERNEL, Bounds, Progress, VerifyError, VerifyResult
from .schedule import counterexample, sanitizer_summary, stderr_tail
from .sources import DOMU, tree_sources


def _notes(tree: Path, progress: Progress) -> None:
    """What the model does not follow in the scripts, and what it assumes."""
    for script in ("activate.sh", "deactivate.sh"):
        for line in toolstack.unmarked_loops((tree / script).read_text()):
            progress(
                f"warning: {tree / script}:{line}: a loop without an `# xbgen-verify:` "
                "marker; the model does not wait there"
            )
    activate = toolstack.extract((tree / "activate.sh").read_text(), "activate.sh", [str(DOMU)])
    for domid in toolstack.assumed_waits(activate):
        progress(
            f"note: activate.sh runs in dom0 and cannot see dom{domid}'s devices; the model "
            f"assumes that before a device is plugged again, its backend device from the "
            f"last plug is gone in dom{domid} (/sys/bus/xen-backend/devices/)"
        )


def _keep_crash(lines: Iterator[str], kept: list[str]) -> Iterator[str]:
    """The lines, keeping in ``kept`` those _crash() reads (the explorer's own)."""
    for line in lines:
        if line.startswith("XBGEN-"):
            kept.append(line)
        yield line


def _crash(lines: list[str], stderr: str) -> Finding | None:
    """A sanitizer report or a hung callback, with the schedule that ran into it."""
    for line in reversed(lines):
        if line.startswith(("XBGEN-CRASH", "XBGEN-HANG")):
            kind, *moves = line.split()
            schedule = [int(m) for m in moves]
            if kind == "XBGEN-HANG":
                return Finding(5, "a callback never returned (watchdog)", schedule)
            return Finding(4, sanitizer_summary(stderr), schedule)
    return None


#: The largest [ring.buffer] max the model takes: the backend's buffer is in
#: every configuration it keeps (a 4MiB one exhausts memory at 2 moves).
MAX_BUFFER = 256 << 10
#: ... by persistent grants (transfer = "map"): their pool and mappings live
#: across calls, and a 128KiB tree exhausts 24 GiB at 2 moves.
MAX_MAP_BUFFER = 64 << 10


def verify(
    tree: Path,
    bounds: Bounds = DEFAULT_BOUNDS,
    progress: Progress | None = None,
    kernel: str = DEFAULT_KERNEL,
) -> VerifyResult:
    """Check the tree, build the model, explore it and check every property.

    `kernel` picks the kernel API the drivers are compiled for (`KERNELS`).
    """
    tree = Path(tree)
    src = tree_sources(tree)
    if src.buffer_max() > MAX_BUFFER:
        raise UsageError(
            f"{tree}: ring.buffer.max is {src.buffer_max() >> 10}KiB; the model holds "
            f"buffers up to {MAX_BUFFER >> 10}KiB (each configuration it keeps holds the "
            "backend's whole buffer): verify a tree rendered with a smaller max, whose "
            "code is the same (segments in indirect pages above 64KiB)"
        )
    if src.buffer_transfer() == "map" and src.buffer_max() > MAX_MAP_BUFFER:
        raise UsageError(
            f"{tree}: ring.buffer.max is {src.buffer_max() >> 10}KiB with transfer = 'map'; "
            f"the model holds those up to {MAX_MAP_BUFFER >> 10}KiB (the pool of persistent "
            "grants and the backend's mappings live across calls in every configuration): "
            "verify the tree rendered with max = '64KiB', whose code differs only in where "
            "the segments go (in the request, not in indirect pages)"
        )
    features(kernel)
    problems = check_paths([tree])
    if problems:
        raise CheckError(
            f"{tree} fails the check ({len(problems)} problem(s)); fix it before verifying",
            [str(p) for p in problems],
        )
    built = build(tree, progress, kernel)
    if progress:
        _notes(tree, progress)
        progress(
            f"exploring (bounds: {bounds.env} environment moves, {bounds.hostile} hostile "
            f"write(s), {bounds.faults} fault(s), {bounds.steps} steps per callback, "
            f"{bounds.calls} call(s), {bounds.saves} save(s))"
        )
    started = time.monotonic()
    # parsed as the explorer prints it: the parsing runs on the other core
    with built.stream("explore", *bounds.args()) as proc:
        lines: list[str] = []
        graph = model.parse(_keep_crash(proc.lines(), lines))
    if not graph.seconds:
        graph.seconds = time.monotonic() - started
    findings: dict[int, Finding] = {}
    crash = _crash(lines, proc.stderr)
    if crash is not None:
        findings[crash.prop] = crash
    elif proc.returncode:
        raise VerifyError(
            f"the model stopped with exit code {proc.returncode}: {stderr_tail(proc.stderr)}"
        )
    for prop, finding in model.analyse(graph).items():
        findings.setdefault(prop, finding)
    examples = {
        prop: counterexample(built, bounds, finding) for prop, finding in sorted(findings.items())
    }
    return VerifyResult(
        tree=tree,
        bounds=bounds,
        states=len(graph.states),
        transitions=graph.transitions,
        seconds=graph.seconds,
        limited=graph.limited,
        findings=examples,
        graph=graph,
        kernel=kernel,
    )
