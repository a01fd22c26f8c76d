"""The outcome of one e2e run: :class:`E2EResult`, read from the serial log of
its boot, the :class:`E2EFailed` error that carries a failed one, and the
report the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xbgen.errors import E2EError
from xbgen.kernels import KernelTree

from . import report
from .qemu import BootResult
from .report import Console


@dataclass
class E2EResult:
    """The outcome of one e2e run; ``ok`` is False when anything failed."""

    ok: bool
    failure: str | None
    console: Console
    serial_log: Path
    versions: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    last_lines: list[str] = field(default_factory=list)
    qemu_returncode: int | None = None

    def summary(self) -> str:
        return format_result(self)


class E2EFailed(E2EError):
    """The e2e run completed but something in it failed; ``result`` has the report."""

    def __init__(self, result: E2EResult) -> None:
        super().__init__(f"e2e FAILED: {result.failure} (serial log: {result.serial_log})")
        self.result = result


def from_boot(
    boot: BootResult, versions: dict[str, str], timings: dict[str, float], kernel: KernelTree
) -> E2EResult:
    """The result of a finished boot, from its serial log."""
    console = report.parse(boot.serial_log.read_text(errors="replace"))
    if console.handshakes:
        timings["handshake_max"] = max(console.handshakes.values())
    failure = report.verdict(console, timed_out=boot.timed_out, exit_pass=boot.exit_pass)
    all_versions = {**versions, f"linux-headers-{kernel.abi}": kernel.version}
    return E2EResult(
        ok=failure is None,
        failure=failure,
        console=console,
        serial_log=boot.serial_log,
        versions=all_versions,
        timings=timings,
        last_lines=report.last_lines(boot.serial_log) if failure else [],
        qemu_returncode=boot.returncode,
    )


def format_result(result: E2EResult) -> str:
    lines = ["xbgen e2e: " + ("PASS" if result.ok else "FAIL"), "steps:"]
    lines += report.format_steps(result.console)
    if result.console.selftests:
        lines += ["ring self-test:", *report.format_selftests(result.console)]
    if result.console.ping:
        ping = result.console.ping
        lines.append(
            f"ping over a vif, {ping.count} times: round trip min/avg/max "
            f"{ping.min_us}/{ping.avg_us}/{ping.max_us} us"
        )
    if result.console.counters:
        lines += ["counters:", *report.format_counters(result.console)]
    lines += ["state timeline (dom0 uptime):", *report.format_timeline(result.console)]
    lines.append("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    for name, secs in result.console.handshakes.items():
        lines.append(f"  handshake {name}: {secs:.2f}s")
    if result.failure:
        lines += [f"failure: {result.failure}", "last console lines:"]
        lines += [f"  {line}" for line in result.last_lines]
    lines.append(f"serial log: {result.serial_log}")
    return "\n".join(lines)
