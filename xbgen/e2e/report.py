"""Read the serial console of an e2e boot: steps, state timeline, timings, verdict.

The lines it reads are the init library's line protocol, written down once,
in ``xbgen/e2e/init/protocol.sh``, which names the pattern here that reads
each line (``STEP_RE``, ``STATE_RE``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

GUEST_PREFIX = "[guest] "
#: The main guest's console lines, and those of the others (``[guest:backend] ``).
GUEST_LINE = re.compile(r"\[guest(?::[\w.-]+)?\] ")
#: Kernel complaints that fail a run wherever they appear (Xen's own lines excluded),
#: user-space crashes, which mean the emulation itself went wrong, and grants
#: leaked or never freed ("deferring g.e." alone is fine: the peer still mapped it).
KERNEL_BAD = re.compile(
    r"WARNING:|BUG:|Oops|Call Trace:|general protection fault|Kernel panic"
    r"|segfault at|traps: |malloc\(\): |leaking g\.e\.|g\.e\. 0x[0-9a-f]+ still"
)
STATE_NAMES = {
    "0": "Unknown", "1": "Initialising", "2": "InitWait", "3": "Initialised",
    "4": "Connected", "5": "Closing", "6": "Closed", "7": "Reconfiguring",
    "8": "Reconfigured", "gone": "(removed)",
}  # fmt: skip
LAST_LINES = 30


@dataclass
class Step:
    name: str
    status: str = "RUNNING"  # RUNNING (never closed), PASS or FAIL
    start: float | None = None
    end: float | None = None
    detail: str = ""

    @property
    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


@dataclass(frozen=True)
class StateChange:
    time: float  # dom0 uptime, seconds
    side: str  # "frontend" or "backend"
    path: str
    value: str

    @property
    def name(self) -> str:
        return STATE_NAMES.get(self.value, self.value)


@dataclass(frozen=True)
class SelfTest:
    """The figures one run of the frontend's debugfs self-test reported."""

    name: str  # the step, e.g. ring/selftest-32
    devid: int
    depth: int  # requests in flight at once
    requests: int
    ok: int
    bad: int
    timeouts: int
    roundtrip_ns: int  # mean time from submitting a request to its response
    per_s: int  # responses per second over the whole run
    bytes: int = 0  # buffer bytes moved by the calls answered right (buffer trees)
    mbps: int = 0  # those bytes per second, in MB (10^6)

    @property
    def clean(self) -> bool:
        return self.ok == self.requests and self.bad == 0 and self.timeouts == 0


@dataclass(frozen=True)
class Ping:
    """dom0 pinging the guest over a vif (netback/netfront), microseconds."""

    count: int
    min_us: int
    avg_us: int
    max_us: int


@dataclass
class Console:
    """Everything parsed out of one serial log."""

    steps: dict[str, Step] = field(default_factory=dict)
    timeline: list[StateChange] = field(default_factory=list)
    handshakes: dict[str, float] = field(default_factory=dict)
    kernel_problems: list[str] = field(default_factory=list)
    guest_lines: list[str] = field(default_factory=list)
    result: str | None = None
    boot_uptime: float | None = None
    guest_domid: str | None = None
    selftests: dict[str, SelfTest] = field(default_factory=dict)
    #: XBGEN-COUNTERS snapshots by label ("before", "after"): counter -> value.
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    ping: Ping | None = None

    @property
    def failed_step(self) -> Step | None:
        for step in self.steps.values():
            if step.status != "PASS":
                return step
        return None


def parse(text: str) -> Console:
    console = Console()
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        guest = GUEST_LINE.match(line)
        if guest:
            _guest_line(console, line[guest.end() :])
        else:
            _dom0_line(console, line)
    return console


def _guest_line(console: Console, line: str) -> None:
    console.guest_lines.append(line)
    if not line.startswith("XBGEN-") and KERNEL_BAD.search(line):
        console.kernel_problems.append(f"guest: {line.strip()}")


def _dom0_line(console: Console, line: str) -> None:
    marker = line.find("XBGEN-")
    if marker < 0:
        if not line.startswith("(XEN)") and KERNEL_BAD.search(line) and "  | " not in line:
            console.kernel_problems.append(f"dom0: {line.strip()}")
        return
    text = line[marker:]
    for pattern, handler in _HANDLERS:
        match = pattern.match(text)
        if match:
            handler(console, match)
            return


# Kernel messages can land in the middle of a marker line on the shared console:
# each pattern takes only the fields it knows and ignores whatever follows.
_NUM = r"(\d+(?:\.\d+)?)"
STEP_RE = re.compile(rf"XBGEN-STEP (\S+) (START|PASS|FAIL)(?: {_NUM})?(?: (.*))?")
STATE_RE = re.compile(rf"XBGEN-STATE {_NUM} (frontend|backend) (\S+) (\d|gone)")
TIME_RE = re.compile(rf"XBGEN-TIME handshake (\S+) {_NUM}")
RESULT_RE = re.compile(r"XBGEN-RESULT (PASS|FAIL)")
BOOT_RE = re.compile(rf"XBGEN-BOOT {_NUM}")
DOMID_RE = re.compile(r"XBGEN-GUEST-DOMID (\d+)")
SELFTEST_RE = re.compile(
    r"XBGEN-SELFTEST (\S+) devid=(\d+) depth=(\d+) requests=(\d+) ok=(\d+) bad=(\d+)"
    r" timeouts=(\d+) roundtrip_ns=(\d+) per_s=(\d+)(?: bytes=(\d+) MBps=(\d+))?"
)
PING_RE = re.compile(r"XBGEN-PING count=(\d+) min_us=(\d+) avg_us=(\d+) max_us=(\d+)")
COUNTERS_RE = re.compile(r"XBGEN-COUNTERS (\S+) ((?:[\w.]+=\d+ ?)+)")


def _on_step(console: Console, m: re.Match[str]) -> None:
    name, status, when = m.group(1), m.group(2), m.group(3)
    step = console.steps.setdefault(name, Step(name))
    if status == "START":
        step.start = float(when) if when else None
    else:
        step.status, step.detail = status, (m.group(4) or "").strip()
        step.end = float(when) if when else None


def _on_state(console: Console, m: re.Match[str]) -> None:
    change = StateChange(float(m.group(1)), m.group(2), m.group(3), m.group(4))
    last = next((c for c in reversed(console.timeline) if c.path == change.path), None)
    if last is None or last.value != change.value:
        console.timeline.append(change)


def _on_time(console: Console, m: re.Match[str]) -> None:
    console.handshakes[m.group(1)] = float(m.group(2))


def _on_result(console: Console, m: re.Match[str]) -> None:
    console.result = m.group(1)


def _on_boot(console: Console, m: re.Match[str]) -> None:
    console.boot_uptime = float(m.group(1))


def _on_domid(console: Console, m: re.Match[str]) -> None:
    console.guest_domid = m.group(1)


def _on_selftest(console: Console, m: re.Match[str]) -> None:
    name, *numbers = m.groups()
    console.selftests[name] = SelfTest(name, *(int(n) for n in numbers if n is not None))


def _on_counters(console: Console, m: re.Match[str]) -> None:
    pairs = (item.split("=") for item in m.group(2).split())
    console.counters[m.group(1)] = {key: int(value) for key, value in pairs}


def _on_ping(console: Console, m: re.Match[str]) -> None:
    console.ping = Ping(*(int(n) for n in m.groups()))


_HANDLERS: list[tuple[re.Pattern[str], Callable[[Console, re.Match[str]], None]]] = [
    (STEP_RE, _on_step),
    (STATE_RE, _on_state),
    (TIME_RE, _on_time),
    (RESULT_RE, _on_result),
    (BOOT_RE, _on_boot),
    (DOMID_RE, _on_domid),
    (SELFTEST_RE, _on_selftest),
    (COUNTERS_RE, _on_counters),
    (PING_RE, _on_ping),
]


def verdict(console: Console, *, timed_out: bool, exit_pass: bool) -> str | None:
    """``None`` when the run passed, else why it failed (naming the step)."""
    failed = console.failed_step
    if failed is not None and failed.status == "FAIL":
        return f"step {failed.name} FAILED: {failed.detail}"
    if console.kernel_problems:
        where = f" (during {failed.name})" if failed else ""
        return f"kernel problem{where}: {console.kernel_problems[0]}"
    finished = console.result == "PASS" and exit_pass and not timed_out
    if not finished:
        why = "QEMU timed out" if timed_out else "the console stopped"
        if failed is not None:
            return f"step {failed.name} never finished: {why}"
        if console.result == "PASS":
            return "the scenario printed PASS but QEMU's exit status says otherwise"
        return f"no PASS result on the console ({why})"
    if not console.steps:
        return "no step ran"
    # A step still RUNNING here had its closing marker garbled on the console;
    # the scenario itself stops at the first failure, so it passed.
    return None


def last_lines(log: Path, count: int = LAST_LINES) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return [line for line in lines if line.strip()][-count:]


def step_at(console: Console, when: float) -> str:
    """The step that was running at dom0 uptime ``when`` (the last one started)."""
    name = ""
    for step in console.steps.values():
        if step.start is not None and step.start <= when:
            name = step.name
    return name


def format_timeline(console: Console) -> list[str]:
    return [
        f"  {c.time:8.2f}s  {c.side:<8}  {c.name:<12} {c.path:<22} {step_at(console, c.time)}"
        for c in console.timeline
    ]


def format_steps(console: Console) -> list[str]:
    lines = []
    for step in console.steps.values():
        secs = f"{step.seconds:6.2f}s" if step.seconds is not None else "   -   "
        detail = f"  {step.detail}" if step.detail else ""
        lines.append(f"  {step.status:<7} {secs}  {step.name}{detail}")
    return lines


def format_selftests(console: Console) -> list[str]:
    """One line per self-test run, the connect/close cycles' runs summed up."""
    lines = []
    cycles = [t for t in console.selftests.values() if t.name.startswith("ring/cycle-")]
    for test in console.selftests.values():
        if test in cycles:
            continue
        lines.append(
            f"  {test.name:<36} devid {test.devid} {test.depth:>3} in flight: "
            f"{test.ok}/{test.requests} ok, bad {test.bad}, timeouts {test.timeouts}, "
            f"round trip {test.roundtrip_ns / 1000:.1f} us, {test.per_s} requests/s"
            + (f", {test.bytes} bytes, {test.mbps} MB/s" if test.bytes else "")
        )
    if cycles:
        trips = sorted(t.roundtrip_ns for t in cycles)
        lines.append(
            f"  {'ring/cycle-1..' + str(len(cycles)):<36} devid {cycles[0].devid} "
            f"{cycles[0].depth:>3} in flight: {sum(t.ok for t in cycles)}/"
            f"{sum(t.requests for t in cycles)} ok, bad {sum(t.bad for t in cycles)}, "
            f"timeouts {sum(t.timeouts for t in cycles)}, "
            f"median round trip {trips[len(trips) // 2] / 1000:.1f} us"
        )
    return lines


def format_counters(console: Console) -> list[str]:
    """The counters, one per line, with each snapshot's value side by side."""
    labels = list(console.counters)
    keys = list(dict.fromkeys(k for snap in console.counters.values() for k in snap))
    lines = ["  " + f"{'counter':<28}" + "".join(f"{label:>10}" for label in labels)]
    for key in keys:
        values = "".join(f"{console.counters[label].get(key, '-'):>10}" for label in labels)
        lines.append(f"  {key:<28}{values}")
    return lines
