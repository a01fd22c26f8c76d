"""Schedules: replaying one move by move with the model's trace, as each
counterexample is printed, and reading back a schedule as ``xbgen verify``
prints it (``--replay``)."""

from __future__ import annotations

import re
from pathlib import Path

from xbgen.errors import UsageError

from . import model
from .compiler import Model, build
from .model import Finding
from .results import (
    DEFAULT_BOUNDS,
    DEFAULT_KERNEL,
    Bounds,
    Counterexample,
    Replay,
    Step,
    VerifyError,
)


def stderr_tail(text: str, n: int = 5) -> str:
    """The last lines of a model's stderr, for an error message."""
    kept = [line for line in text.splitlines() if "swapcontext" not in line]
    return " / ".join(kept[-n:])


def sanitizer_summary(stderr: str) -> str:
    """The one line of a sanitizer report that says what went wrong."""
    for line in stderr.splitlines():
        if "ERROR: " in line:
            return line.split("ERROR: ", 1)[1].strip()
        if "runtime error" in line:
            return line.strip()
    return "sanitizer report"


def replay_moves(built: Model, bounds: Bounds, moves: list[int]) -> Replay:
    """Run ``moves`` with tracing, and say which property the end of it breaks."""
    proc = built.run("replay", *bounds.args(), *map(str, moves))
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
        message = sanitizer_summary(proc.stderr)
    elif proc.returncode == 4:
        prop, message = 5, "a callback never returned (watchdog)"
    elif proc.returncode:
        raise VerifyError(
            f"replay stopped with exit code {proc.returncode}: {stderr_tail(proc.stderr)}"
        )
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
        if result.prop is None and steps[-1].state.flags & model.LATE:
            result.prop = 10
            result.message = model.late_message(steps[-1].move, steps[-1].state)
    return result


def counterexample(built: Model, bounds: Bounds, finding: Finding) -> Counterexample:
    """A finding with its schedule replayed, to be printed move by move."""
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
    """The model's moves by number (its move table)."""
    proc = built.run("explore", "--max-states", "1")
    return model.parse(proc.stdout.splitlines()).moves


def replay(
    tree: Path, schedule: str, bounds: Bounds = DEFAULT_BOUNDS, kernel: str = DEFAULT_KERNEL
) -> Replay:
    """Replay a schedule as `xbgen verify` prints it on ``tree``."""
    built = build(Path(tree), kernel=kernel)
    return replay_moves(built, bounds, parse_schedule(schedule, move_names(built)))
