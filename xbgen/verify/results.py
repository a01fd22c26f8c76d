"""What ``xbgen verify`` is asked and what it answers: the bounds, the kernel
APIs a model can be compiled for, and the results, replays and
counterexamples it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xbgen.errors import XbgenError

from . import model
from .model import Graph

Progress = Callable[[str], None]

#: Kernel API the compiled drivers see -> the LINUX_VERSION_CODE whose Kbuild
#: feature tests define it.  "6.12" has every feature (remove returns void,
#: not_essential, xenbus_setup_ring, gnttab_end_foreign_access(ref, page),
#: bind_interdomain_evtchn_to_irqhandler_lateeoi(dev, ...)); "5.10" none.
KERNELS: dict[str, int] = {"6.12": (6 << 16) + (12 << 8), "5.10": (5 << 16) + (10 << 8)}
DEFAULT_KERNEL = "6.12"


class VerifyError(XbgenError):
    """The model could not be built or run."""


@dataclass(frozen=True)
class Bounds:
    """How far the explorer looks."""

    env: int = 2  # unbind/bind/rmmod/insmod/deactivate/destroy/re-activate
    hostile: int = 1  # state writes by a hostile guest
    faults: int = 1  # failed xenstore writes / allocations
    steps: int = 64  # xenstore accesses inside one callback
    max_states: int = 4_000_000
    # calls of NAMEfront_call() by a program in the guest (ring trees), one after
    # the other; each counts as an environment move.  Two find a lost wake-up on
    # either side: the second request or response is the one whose event is lost.
    calls: int = 2
    # `xl save` + `xl restore` (or `xl migrate`, the same path in the guest), or
    # `xl save -c`, of the guest; each counts as an environment move too.  One
    # makes the default ring graph 1.38 times as large (docs/verify.md).
    saves: int = 1

    def args(self) -> list[str]:
        """The explorer's options for these bounds."""
        return [
            "--env", str(self.env),
            "--hostile", str(self.hostile),
            "--faults", str(self.faults),
            "--steps", str(self.steps),
            "--max-states", str(self.max_states),
            "--calls", str(self.calls),
            "--saves", str(self.saves),
        ]  # fmt: skip


#: The bounds `xbgen verify` uses unless told otherwise.
DEFAULT_BOUNDS = Bounds()


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
