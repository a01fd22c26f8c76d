"""The explored state graph and the properties checked on it.

``explore`` (the C program) prints every configuration it reaches with its
parent, every transition, and every safety violation it saw on a transition.
This module reads that, then checks what needs the whole graph: the
liveness properties on the configurations where the system has nothing
left to do (*settled*), and cycles the drivers could spin in forever.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

#: Property number -> (short name, what holds when it passes).
PROPERTIES: dict[int, tuple[str, str]] = {
    1: ("connect", "from activation, every fair schedule brings both ends to Connected"),
    2: ("close", "after deactivate.sh both ends reach Closed and the backend device is gone"),
    3: ("rebind", "after unbind+bind or rmmod+insmod of either side, both reconnect"),
    4: (
        "safe",
        "no BUG/WARN, no leak, no sanitizer report, no sleep in atomic context, "
        "no fatal on a legal schedule",
    ),
    5: ("returns", "every callback returns (bounded xenstore accesses and kernel calls)"),
    6: (
        "no-deadlock",
        "no configuration where nothing can move short of the goal, no threads waiting "
        "for each other",
    ),
    7: ("honest-log", "'connected as well' is printed only when both ends are Connected"),
    8: (
        "resources",
        "no grant, mapping, event channel, irq, debugfs entry, work item or transaction "
        "is released twice or left behind",
    ),
    9: (
        "calls",
        "a call of the frontend's API on a legal schedule is answered, or fails with "
        "-ENOTCONN or -ECONNRESET when the device goes",
    ),
    10: (
        "prompt",
        "on a legal schedule with both drivers bound no timer fires: not a call's "
        "timeout, not deactivate.sh's wait or grace period, no wait the model bounds",
    ),
    11: (
        "released",
        "once a side is Closed (or its directory is gone) and the drivers are quiet, it "
        "holds no mapping, grant, event channel or irq of the connection",
    ),
    12: (
        "xenwatch-free",
        "dom0's xenwatch thread never waits, in a watch callback, for a backend user "
        "handler to return",
    ),
}

# sim.h's sim_summary.flags
ACTIVATED = 0x0001
DEACT = 0x0002
DEACT_DONE = 0x0004
FORCED = 0x0008
DESTROYED = 0x0010
TAINTED = 0x0020
REBIND = 0x0040
LOADED_F = 0x0080
LOADED_B = 0x0100
FE_CLOSED = 0x0200
DEACT_CLEAN = 0x0400
FE_DIR = 0x0800
BE_DIR = 0x1000
LATE = 0x8000  # a timer fired on a legal schedule with both drivers bound

CONNECTED = 4
STATE_NAMES = [
    "Unknown",
    "Initialising",
    "InitWait",
    "Initialised",
    "Connected",
    "Closing",
    "Closed",
    "Reconfiguring",
    "Reconfigured",
]


def state_name(value: int) -> str:
    if value == -1:
        return "gone"
    if value == -2:
        return "no state"
    return STATE_NAMES[value] if 0 <= value < len(STATE_NAMES) else f"state {value}"


@dataclass(slots=True)
class State:
    id: int
    parent: int
    move: int
    depth: int
    fe: int
    be: int
    fe_dev: int
    be_dev: int
    fe_bound: bool
    be_bound: bool
    system_moves: int
    flags: int

    @classmethod
    def from_fields(cls, v: list[int]) -> State:
        """From explore's numbers: id parent move depth fe be fe-dev be-dev
        fe-bound be-bound system-moves flags."""
        return cls(*v[:8], bool(v[8]), bool(v[9]), v[10], v[11])

    @property
    def settled(self) -> bool:
        return self.system_moves == 0

    def describe(self) -> str:
        return f"frontend {state_name(self.fe)} | backend {state_name(self.be)}"


@dataclass
class Finding:
    """A property that does not hold, with the shortest schedule that breaks it."""

    prop: int
    message: str
    schedule: list[int]  # move numbers from the initial configuration
    cycle: list[int] = field(default_factory=list)  # moves that repeat forever


@dataclass
class Graph:
    moves: dict[int, str] = field(default_factory=dict)
    states: list[State] = field(default_factory=list)
    edges: list[tuple[int, int, int]] = field(default_factory=list)
    violations: list[tuple[int, int, int, str]] = field(default_factory=list)
    seconds: float = 0.0
    transitions: int = 0
    limited: bool = False
    #: The explorer's own peeling for _system_cycle(): its system moves (first,
    #: last) and the configurations left on or between their cycles.
    cycle_core: tuple[int, int, list[int]] | None = None

    def schedule_to(self, sid: int) -> list[int]:
        moves: list[int] = []
        while sid > 0:
            state = self.states[sid]
            moves.append(state.move)
            sid = state.parent
        moves.reverse()
        return moves


def parse(lines: list[str]) -> Graph:
    graph = Graph()
    edges, states = graph.edges, graph.states
    for line in lines:
        try:
            if line.startswith("E "):  # most of them: the fast way
                _, a, b, m = line.split()
                edges.append((int(a), int(b), int(m)))
            elif line.startswith("S "):
                v = list(map(int, line[2:].split()))
                states.append(State(*v[:8], v[8] != 0, v[9] != 0, v[10], v[11]))
            else:
                _record(graph, line)
        except ValueError:  # the last line of a run a sanitizer stopped
            continue
    return graph


def _record(graph: Graph, line: str) -> None:
    kind, _, rest = line.partition(" ")
    if kind == "S":
        graph.states.append(State.from_fields([int(x) for x in rest.split()]))
    elif kind == "E":
        a, b, m = (int(x) for x in rest.split())
        graph.edges.append((a, b, m))
    elif kind == "V":
        prop, sid, move, message = rest.split(" ", 3)
        graph.violations.append((int(prop), int(sid), int(move), message))
    elif kind == "M":
        number, name = rest.split(" ", 1)
        graph.moves[int(number)] = name
    elif kind == "C":
        first, last, *left = (int(x) for x in rest.split())
        graph.cycle_core = (first, last, left)
    elif kind == "D":
        words = rest.split()
        graph.transitions = int(words[1])
        graph.seconds = float(words[2])
        graph.limited = len(words) > 3


#: The moves the kernel or the toolstack will make (sim.h: MV_TOOLSTACK .. MV_USER_DOMU).
SYSTEM_MOVES = frozenset(
    {
        "toolstack step",
        "toolstack times out",
        "a wait times out",
        "toolstack's grace period ends",
        "dom0 watch event",
        "domU watch event",
        "dom0 runs",
        "domU runs",
        "dom0 work item runs",
        "domU work item runs",
        "dom0 interrupt",
        "domU interrupt",
        "dom0 second worker runs",
        "domU second worker runs",
        "domU program runs",
    }
)


def system_move(name: str) -> bool:
    return name in SYSTEM_MOVES


def goal_problem(s: State) -> tuple[int, str] | None:
    """What is wrong with a settled configuration, if anything."""
    f = s.flags
    if f & TAINTED:
        return None
    if f & DEACT_DONE:
        if f & (FE_DIR | BE_DIR):
            return 2, "deactivate.sh finished but a device directory is still there"
        if s.be_dev != -1:
            return 2, "deactivate.sh finished but the backend device is still registered"
        if f & DEACT_CLEAN and f & FORCED:
            return 2, f"deactivate.sh timed out waiting for Closed ({s.describe()})"
        if f & DEACT_CLEAN and not f & FE_CLOSED:
            return 2, "deactivate.sh finished but the frontend never reached Closed"
        return None
    if f & DESTROYED:
        if s.be_bound:
            return 6, (
                "the guest was destroyed but the backend device stays registered "
                f"(backend {state_name(s.be)})"
            )
        return None
    intent_connected = (
        f & ACTIVATED
        and not f & DEACT
        and f & LOADED_F
        and f & LOADED_B
        and s.fe_bound
        and s.be_bound
    )
    if intent_connected and not (s.fe == CONNECTED == s.be and s.fe_dev == CONNECTED == s.be_dev):
        prop = 3 if f & REBIND else 1
        return prop, f"nothing can move and the pair is not Connected ({s.describe()})"
    return None


def late_message(move: str, s: State) -> str:
    """prompt's finding: which timer fired, and where."""
    return (
        f"a timer fired on a legal schedule with both drivers bound ({move}): only a "
        f"timeout moved the system on ({s.describe()})"
    )


def analyse(graph: Graph) -> dict[int, Finding]:
    """The first (shortest) finding for each property that does not hold."""
    findings: dict[int, Finding] = {}

    # safety: the explorer reports them in breadth-first order
    for prop, sid, move, message in graph.violations:
        if prop not in findings:
            findings[prop] = Finding(prop, message, [*graph.schedule_to(sid), move])

    # liveness on settled configurations, shortest first; any of them is
    # also a deadlock (6): nothing can move and the goal is not reached
    for state in sorted(graph.states, key=lambda s: s.depth):
        if not state.settled:
            continue
        problem = goal_problem(state)
        if problem is None:
            continue
        prop, message = problem
        for number in (prop, 6):
            if number not in findings:
                findings[number] = Finding(number, message, graph.schedule_to(state.id))

    # prompt: the first configuration a timer on a legal schedule reached
    # (the flag stays: the states after it carry it too)
    if 10 not in findings:
        late = [s for s in graph.states if s.flags & LATE]
        if late:
            state = min(late, key=lambda s: s.depth)
            findings[10] = Finding(
                10,
                late_message(graph.moves.get(state.move, "?"), state),
                graph.schedule_to(state.id),
            )

    # cycles of system moves: the drivers would spin for ever
    cycle = _system_cycle(graph)
    if cycle is not None:
        entry, moves = cycle
        state = graph.states[entry]
        prop = 4 if state.flags & TAINTED else 3 if state.flags & REBIND else 1
        if prop not in findings:
            findings[prop] = Finding(
                prop,
                f"the drivers change state for ever without settling ({state.describe()})",
                graph.schedule_to(entry),
                moves,
            )
    return findings


def _system_cycle(graph: Graph) -> tuple[int, list[int]] | None:
    """A reachable cycle made of system moves only: (entry state, its moves).

    Peels off, as Kahn's algorithm does, every state no system-move cycle
    passes through (first those with no system move into them, then those
    with none out of them); what is left lies on or between cycles, and the
    shallowest state that is on one is the entry.
    """
    system = {number for number, name in graph.moves.items() if system_move(name)}
    core = graph.cycle_core
    if core is not None and system == set(range(core[0], core[1] + 1)):
        # the explorer peeled the same moves' graph already, in C
        return _cycle_entry(graph, system, core[2])
    count = len(graph.states)
    succ: list[list[int]] = [[] for _ in range(count)]
    pred: list[list[int]] = [[] for _ in range(count)]
    for a, b, m in graph.edges:
        if m in system:
            succ[a].append(b)
            pred[b].append(a)
    alive = [bool(succ[n] or pred[n]) for n in range(count)]
    for into, out in ((pred, succ), (succ, pred)):
        degree = [sum(alive[x] for x in into[n]) if alive[n] else 0 for n in range(count)]
        queue = [n for n in range(count) if alive[n] and not degree[n]]
        while queue:
            node = queue.pop()
            alive[node] = False
            for other in out[node]:
                if alive[other]:
                    degree[other] -= 1
                    if not degree[other]:
                        queue.append(other)
    return _cycle_entry(graph, system, [n for n in range(count) if alive[n]])


def _cycle_entry(graph: Graph, system: set[int], left: list[int]) -> tuple[int, list[int]] | None:
    """The shallowest configuration of ``left`` (what peeling left) on a cycle."""
    if not left:
        return None
    inner: dict[int, list[tuple[int, int]]] = {n: [] for n in left}
    for a, b, m in graph.edges:
        if m in system and a in inner and b in inner:
            inner[a].append((b, m))
    for entry in sorted(left, key=lambda s: (graph.states[s].depth, s)):
        moves = _cycle_moves(entry, inner)
        if moves:
            return entry, moves
    return None


def _cycle_moves(start: int, succ: dict[int, list[tuple[int, int]]]) -> list[int]:
    """The moves of a shortest system-move cycle through ``start``."""
    prev: dict[int, tuple[int, int]] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child, move in succ.get(node, ()):
            if child == start:
                moves = [move]
                while node != start:
                    node, m = prev[node]
                    moves.append(m)
                return moves[::-1]
            if child not in seen:
                seen.add(child)
                prev[child] = (node, move)
                queue.append(child)
    return []
