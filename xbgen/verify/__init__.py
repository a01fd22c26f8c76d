"""``xbgen verify``: model-check the emitted drivers over every interleaving.

The tree's ``frontend/*.c`` and ``backend/*.c`` (one file each for a
handshake-only driver; core and user files with a ``[ring]``) are compiled
unchanged, as user-space code with AddressSanitizer and UBSan, against a
simulation of the xenbus, grant-table and event-channel API (``sim/sim.c``,
declared by the same fake headers ``xbgen check`` uses).  ``sim/explore.c``
walks every configuration reachable within the bounds, breadth first with
state hashing; the toolstack replays the tree's own
``activate.sh``/``deactivate.sh`` writes.  Then :mod:`xbgen.verify.model`
checks the properties on the whole graph, and each violation is replayed to
print its shortest schedule move by move.

Pipeline: check the tree -> compile (cached by content) -> explore -> analyse
-> replay the counterexamples.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from xbgen.cache import cache_dir
from xbgen.check import FAKE_INCLUDE, check_paths, feature_defines
from xbgen.errors import CheckError, ToolMissingError, UsageError, XbgenError

from . import model, toolstack
from .model import PROPERTIES, Finding, Graph

Progress = Callable[[str], None]

#: The guest's domain id in the model.
DOMU = 1
#: Kernel API the compiled drivers see -> the LINUX_VERSION_CODE whose Kbuild
#: feature tests define it.  "6.12" has every feature (remove returns void,
#: not_essential, xenbus_setup_ring, gnttab_end_foreign_access(ref, page),
#: bind_interdomain_evtchn_to_irqhandler_lateeoi(dev, ...)); "5.10" none.
KERNELS: dict[str, int] = {"6.12": (6 << 16) + (12 << 8), "5.10": (5 << 16) + (10 << 8)}
DEFAULT_KERNEL = "6.12"
CFLAGS = (
    "-std=gnu11",
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-DXBGEN_SIM",
)
#: The simulation's own C (tests/test_verify.py holds it to -Werror).
SIM_CFLAGS = ("-Wall",)
#: Gathers the drivers' static variables (each in its own section, by
#: -fdata-sections) between two symbols, so a configuration's snapshot holds
#: them as it holds the heap; the sanitizers' own data (``..L`` sections, ODR
#: indicators) goes elsewhere.
DRIVER_CFLAGS = ("-fdata-sections", "-fno-common")
LINKER_SCRIPT = """SECTIONS
{
  .xbgen_sanitizers : { *xbgen-drv-*.o(*..L* .bss.__odr_asan*) }
  .xbgen_drivers : ALIGN(64)
  {
    __xbgen_drivers_start = .;
    *xbgen-drv-*.o(.data .data.* .bss .bss.* COMMON)
    . = ALIGN(64);
    __xbgen_drivers_end = .;
  }
}
INSERT AFTER .data;
"""
SANITIZER_ENV = {
    # the explorer frees snapshots by the thousand: a small quarantine keeps
    # its memory to what it holds (the drivers' memory is the simulation's own)
    "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=3:quarantine_size_mb=8",
    # UBSan cannot reach the simulation's death callback: it aborts instead
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:abort_on_error=1",
}


class VerifyError(XbgenError):
    """The model could not be built or run."""


@dataclass(frozen=True)
class Bounds:
    """How far the explorer looks."""

    env: int = 2  # unbind/bind/rmmod/insmod/deactivate/destroy/re-activate
    hostile: int = 1  # state writes by a hostile guest
    faults: int = 1  # failed xenstore writes / allocations
    steps: int = 64  # xenstore accesses inside one callback
    max_states: int = 2_000_000
    calls: int = 1  # a program in the guest calls NAMEfront_call() (ring trees)


@dataclass
class Step:
    number: int
    move: str
    after: str
    log: list[str] = field(default_factory=list)
    hash: str = ""
    state: model.State | None = None


@dataclass
class Replay:
    """What replaying a schedule showed."""

    steps: list[Step]
    prop: int | None  # the property it breaks, if any
    message: str | None
    sanitizer: list[str] = field(default_factory=list)
    cycle_from: int | None = None  # the last move returns to the state after this move


@dataclass
class Counterexample:
    prop: int
    message: str
    steps: list[Step]
    cycle_from: int | None = None  # steps from this number on repeat for ever
    sanitizer: list[str] = field(default_factory=list)


@dataclass
class VerifyResult:
    tree: Path
    bounds: Bounds
    states: int
    transitions: int
    seconds: float
    limited: bool
    findings: dict[int, Counterexample]
    graph: Graph
    kernel: str = DEFAULT_KERNEL

    @property
    def ok(self) -> bool:
        return not self.findings and not self.limited


@dataclass
class Model:
    """A compiled model of one tree."""

    binary: Path
    config: Path
    name: str


# --------------------------------------------------------------------------- build


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


def _module_sources(folder: Path, role: str) -> tuple[str, tuple[Path, ...]] | None:
    """The device name and the C files of ``folder``'s module, if it is one xbgen made."""
    # kbuild leaves NAME.mod.c behind: not the driver's source.
    files = tuple(sorted(p for p in folder.glob("*.c") if not p.name.endswith(".mod.c")))
    for path in files:
        match = re.fullmatch(rf"(\w+){role}(_core)?\.c", path.name)
        if match:
            return match.group(1), files
    return None


def _sources(tree: Path) -> Sources:
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


def _sim_dir() -> Path:
    return Path(str(resources.files("xbgen.verify").joinpath("sim")))


def _config(tree: Path, name: str) -> list[str]:
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


#: A ring tree's guest program: one call of NAMEfront_call(), made while the
#: frontend's user hooks say calls may be made (the linker wraps them).
CALLER = """// SPDX-License-Identifier: GPL-2.0-only
/* xbgen verify: a program in the guest that calls {front}_call(). */
#include <linux/string.h>

#include "{front}.h"

void xbgen_sim_user_up(void *fdev);
void xbgen_sim_user_down(void *fdev);
int __real_{front}_user_connect(struct {front}_device *fdev);
void __real_{front}_user_disconnect(struct {front}_device *fdev);

int __wrap_{front}_user_connect(struct {front}_device *fdev)
{{
	int err = __real_{front}_user_connect(fdev);

	if (!err)
		xbgen_sim_user_up(fdev);
	return err;
}}

void __wrap_{front}_user_disconnect(struct {front}_device *fdev)
{{
	xbgen_sim_user_down(fdev);
	__real_{front}_user_disconnect(fdev);
}}

int xbgen_sim_call(void *fdev)
{{
	struct {name}_request req;
	struct {name}_response rsp;

	memset(&req, 0, sizeof(req));
	return {front}_call(fdev, &req, &rsp);
}}
"""


def _features(kernel: str) -> list[str]:
    if kernel not in KERNELS:
        raise UsageError(f"kernel {kernel!r}: choose one of {', '.join(KERNELS)}")
    return feature_defines(KERNELS[kernel])


def _compile(gcc: str, units: list[tuple[Path, Path, list[str]]]) -> None:
    """Compile (source, object, flags) units in parallel."""
    procs = []
    for path, obj, extra in units:
        cmd = [gcc, *CFLAGS, *extra, "-c", str(path), "-o", str(obj)]
        procs.append((path, subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)))
    failed = []
    for path, proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            failed.append(f"compiling {path} for the model failed:\n{err.strip()}")
    if failed:
        raise VerifyError(failed[0])


def _cached(folder: Path, make: Callable[[Path], None]) -> Path:
    """``folder``, made by ``make`` in a temporary folder renamed into place."""
    if folder.is_dir():
        return folder
    work = Path(tempfile.mkdtemp(prefix="build-", dir=_mkdir(folder.parent)))
    try:
        make(work)
        with contextlib.suppress(OSError):  # made meanwhile by another run
            work.rename(folder)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return folder


def _simulation(gcc: str, features: list[str], progress: Progress | None) -> Path:
    """The simulation's objects (sim.o, explore.o) for a kernel API, shared by all trees."""
    sim = _sim_dir()
    digest = hashlib.sha256(" ".join((*CFLAGS, *SIM_CFLAGS, *features)).encode())
    for path in sorted([*sim.glob("*.[ch]"), *FAKE_INCLUDE.rglob("*.h")]):
        digest.update(str(path.relative_to(path.parent.parent)).encode())
        digest.update(path.read_bytes())

    def make(work: Path) -> None:
        if progress:
            progress("compiling the xenbus simulation")
        host = [*SIM_CFLAGS, "-I", str(FAKE_INCLUDE), "-I", str(sim)]
        _compile(
            gcc,
            [
                (sim / "sim.c", work / "sim.o", [*host, "-DXBGEN_SIM_HOST", *features]),
                (sim / "explore.c", work / "explore.o", [*SIM_CFLAGS, "-I", str(sim)]),
            ],
        )

    return _cached(cache_dir() / "verify" / f"sim-{digest.hexdigest()[:20]}", make)


def build(tree: Path, progress: Progress | None = None, kernel: str = DEFAULT_KERNEL) -> Model:
    """Compile the tree's drivers with the simulation (both cached by content).

    `kernel` picks the kernel API the drivers are compiled for (`KERNELS`).
    """
    src = _sources(tree)
    features = _features(kernel)
    gcc = shutil.which("gcc")
    if gcc is None:
        raise ToolMissingError("gcc not found: install gcc (Debian: apt-get install gcc)")
    objects = _simulation(gcc, features, progress)
    config = "\n".join(_config(tree, src.name)) + "\n"
    digest = hashlib.sha256(str(objects).encode())
    for path in (*src.front, *src.back, *src.headers):
        digest.update(str(path.relative_to(tree)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    for part in (config, " ".join((*CFLAGS, *DRIVER_CFLAGS, *features)), LINKER_SCRIPT, CALLER):
        digest.update(part.encode())
        digest.update(b"\0")

    def make(work: Path) -> None:
        if progress:
            names = ", ".join(path.name for path in (*src.front, *src.back))
            progress(f"compiling {names} with the xenbus simulation")
        (work / "config").write_text(config)
        (work / "drivers.lds").write_text(LINKER_SCRIPT)
        units: list[tuple[Path, Path, list[str]]] = []
        wraps: list[str] = []
        for role, files in (("front", src.front), ("back", src.back)):
            flags = [
                *DRIVER_CFLAGS,
                "-nostdinc",
                "-D__KERNEL__",
                f'-DKBUILD_MODNAME="{src.name}{role}"',
                f"-DXBGEN_SIM_ROLE={role}",
                *features,
                "-I",
                str(tree / f"{role}end"),
                "-I",
                str(tree / "include"),
                "-I",
                str(FAKE_INCLUDE),
            ]
            units += [(path, work / f"xbgen-drv-{role}-{path.stem}.o", flags) for path in files]
            if role == "front" and src.ring:
                caller = work / "xbgen-call.c"
                front = f"{src.name}front"
                caller.write_text(CALLER.format(front=front, name=src.name))
                units.append((caller, work / "xbgen-drv-front-call.o", flags))
                wraps = [f"-Wl,--wrap={front}_user_connect,--wrap={front}_user_disconnect"]
        _compile(gcc, units)
        objs = [str(obj) for _, obj, _ in units]
        objs += [str(objects / "sim.o"), str(objects / "explore.o")]
        link = subprocess.run(
            [
                gcc,
                *CFLAGS,
                *objs,
                *wraps,
                f"-Wl,-T,{work / 'drivers.lds'}",
                "-o",
                str(work / "explore"),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        if link.returncode:
            raise VerifyError(f"linking the model failed:\n{link.stderr.strip()}")
        for _, obj, _ in units:
            obj.unlink()

    folder = _cached(cache_dir() / "verify" / digest.hexdigest()[:20], make)
    return Model(folder / "explore", folder / "config", src.name)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _limits(bounds: Bounds) -> list[str]:
    return [
        "--env", str(bounds.env),
        "--hostile", str(bounds.hostile),
        "--faults", str(bounds.faults),
        "--steps", str(bounds.steps),
        "--max-states", str(bounds.max_states),
        "--calls", str(bounds.calls),
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, **SANITIZER_ENV}


# --------------------------------------------------------------------------- explore


def verify(
    tree: Path,
    bounds: Bounds = Bounds(),
    progress: Progress | None = None,
    kernel: str = DEFAULT_KERNEL,
) -> VerifyResult:
    """Check the tree, build the model, explore it and check every property.

    `kernel` picks the kernel API the drivers are compiled for (`KERNELS`).
    """
    tree = Path(tree)
    _sources(tree)
    _features(kernel)
    problems = check_paths([tree])
    if problems:
        raise CheckError(
            f"{tree} fails the check ({len(problems)} problem(s)); fix it before verifying",
            [str(p) for p in problems],
        )
    built = build(tree, progress, kernel)
    for script in ("activate.sh", "deactivate.sh"):
        for line in toolstack.unmarked_loops((tree / script).read_text()):
            if progress:
                progress(
                    f"warning: {tree / script}:{line}: a loop without an `# xbgen-verify:` "
                    "marker; the model does not wait there"
                )
    activate = toolstack.extract((tree / "activate.sh").read_text(), "activate.sh", [str(DOMU)])
    for domid in toolstack.assumed_waits(activate):
        if progress:
            progress(
                f"note: activate.sh runs in dom0 and cannot see dom{domid}'s devices; the model "
                f"assumes that before a device is plugged again, its backend device from the "
                f"last plug is gone in dom{domid} (/sys/bus/xen-backend/devices/)"
            )
    if progress:
        progress(
            f"exploring (bounds: {bounds.env} environment moves, {bounds.hostile} hostile "
            f"write(s), {bounds.faults} fault(s), {bounds.steps} steps per callback)"
        )
    started = time.monotonic()
    proc = subprocess.run(
        [str(built.binary), str(built.config), "explore", *_limits(bounds)],
        capture_output=True,
        text=True,
        env=_env(),
    )
    lines = proc.stdout.splitlines()
    graph = model.parse(lines)
    if not graph.seconds:
        graph.seconds = time.monotonic() - started
    findings: dict[int, Finding] = {}
    crash = _crash(lines, proc.stderr)
    if crash is not None:
        findings[crash.prop] = crash
    elif proc.returncode:
        raise VerifyError(
            f"the model stopped with exit code {proc.returncode}: {_tail(proc.stderr)}"
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


def _tail(text: str, n: int = 5) -> str:
    kept = [line for line in text.splitlines() if "swapcontext" not in line]
    return " / ".join(kept[-n:])


def _crash(lines: list[str], stderr: str) -> Finding | None:
    """A sanitizer report or a hung callback, with the schedule that ran into it."""
    for line in reversed(lines):
        if line.startswith(("XBGEN-CRASH", "XBGEN-HANG")):
            kind, *moves = line.split()
            schedule = [int(m) for m in moves]
            if kind == "XBGEN-HANG":
                return Finding(5, "a callback never returned (watchdog)", schedule)
            return Finding(4, _sanitizer_summary(stderr), schedule)
    return None


# --------------------------------------------------------------------------- replay


def replay_moves(built: Model, bounds: Bounds, moves: list[int]) -> Replay:
    """Run ``moves`` with tracing, and say which property the end of it breaks."""
    proc = subprocess.run(
        [str(built.binary), str(built.config), "replay", *_limits(bounds), *map(str, moves)],
        capture_output=True,
        text=True,
        env=_env(),
    )
    steps: list[Step] = []
    prop: int | None = None
    message: str | None = None
    for line in proc.stdout.splitlines():
        if line.startswith("MOVE "):
            _, number, name = line.split(" ", 2)
            steps.append(Step(int(number), name, ""))
        elif line.startswith("AFTER ") and steps:
            steps[-1].after = line.split(" ", 2)[2]
        elif line.startswith("STATE ") and steps:
            words = line.split()
            number = int(words[1])
            steps[-1].hash = words[2]
            # a replayed step has no parent in a graph: id and depth are its number
            steps[-1].state = model.State.from_fields(
                [number, -1, -1, number, *(int(x) for x in words[3:])]
            )
        elif line.startswith("VIOLATION "):
            _, number, message = line.split(" ", 2)
            prop = int(number)
        elif line.startswith("NOT-ENABLED "):
            _, number, name = line.split(" ", 2)
            raise UsageError(f"replay: move {number} ({name}) is not possible at that point")
        elif line.startswith("    | ") and steps:
            steps[-1].log.append(line[6:])
    sanitizer: list[str] = []
    if "Sanitizer" in proc.stderr or "runtime error" in proc.stderr:
        sanitizer = [
            ln
            for ln in proc.stderr.splitlines()
            if ln.strip() and "swapcontext" not in ln and not ln.startswith("XBGEN-")
        ][:40]
        prop = 4
        message = _sanitizer_summary(proc.stderr)
    elif proc.returncode == 4:
        prop, message = 5, "a callback never returned (watchdog)"
    elif proc.returncode:
        raise VerifyError(f"replay stopped with exit code {proc.returncode}: {_tail(proc.stderr)}")
    result = Replay(steps, prop, message, sanitizer)
    if prop is None and steps and steps[-1].state is not None:
        seen = {step.hash: step.number for step in steps[:-1]}
        if steps[-1].hash in seen:
            result.cycle_from = seen[steps[-1].hash]
            entry = steps[result.cycle_from - 1].state
            result.prop = 4 if entry and entry.flags & model.TAINTED else 1
            result.message = "the drivers change state for ever without settling"
        elif steps[-1].state.settled:
            problem = model.goal_problem(steps[-1].state)
            if problem:
                result.prop, result.message = problem
    return result


def _sanitizer_summary(stderr: str) -> str:
    for line in stderr.splitlines():
        if "ERROR: " in line:
            return line.split("ERROR: ", 1)[1].strip()
        if "runtime error" in line:
            return line.strip()
    return "sanitizer report"


def counterexample(built: Model, bounds: Bounds, finding: Finding) -> Counterexample:
    result = replay_moves(built, bounds, finding.schedule + finding.cycle)
    return Counterexample(
        prop=finding.prop,
        message=finding.message,
        steps=result.steps,
        cycle_from=len(finding.schedule) + 1 if finding.cycle else None,
        sanitizer=result.sanitizer,
    )


def parse_schedule(text: str, names: dict[int, str]) -> list[int]:
    """Move numbers from a schedule as `xbgen verify` prints it (``N. move ...``)."""
    by_name = {name: number for number, name in names.items()}
    moves = []
    for raw in text.splitlines():
        match = re.match(r"\s*(\d+)\.\s+(.+?)(?:\s{2,}.*)?$", raw)
        if not match:
            continue
        name = match.group(2).strip()
        if name not in by_name:
            raise UsageError(f"schedule line {raw.strip()!r}: unknown move {name!r}")
        moves.append(by_name[name])
    if not moves:
        raise UsageError("the schedule has no numbered moves")
    return moves


def move_names(built: Model) -> dict[int, str]:
    proc = subprocess.run(
        [str(built.binary), str(built.config), "explore", "--max-states", "1"],
        capture_output=True,
        text=True,
        env=_env(),
    )
    return model.parse(proc.stdout.splitlines()).moves


def replay(
    tree: Path, schedule: str, bounds: Bounds = Bounds(), kernel: str = DEFAULT_KERNEL
) -> Replay:
    """Replay a schedule as `xbgen verify` prints it on ``tree``."""
    built = build(Path(tree), kernel=kernel)
    return replay_moves(built, bounds, parse_schedule(schedule, move_names(built)))


__all__ = [
    "KERNELS",
    "PROPERTIES",
    "Bounds",
    "Counterexample",
    "Replay",
    "VerifyError",
    "VerifyResult",
    "build",
    "replay",
    "verify",
]
