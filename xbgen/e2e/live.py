"""The console of a running boot, line by line: progress for the caller and
host-side timestamps of the markers (the line protocol: ``init/protocol.sh``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from .qemu import BootResult

Progress = Callable[[str], None]


def marker_clock(marks: dict[str, float], say: Progress) -> Callable[[str], None]:
    """A console line reader for :func:`xbgen.e2e.qemu.boot`: each closed step
    goes to ``say``; ``marks`` gets the seconds to dom0's boot and to the first
    connects."""
    origin = time.monotonic()

    def on_line(line: str) -> None:
        at = line.find("XBGEN-")
        if at < 0:
            return
        words = line[at:].split()
        elapsed = time.monotonic() - origin
        if words[0] == "XBGEN-BOOT":
            marks.setdefault("boot", elapsed)
        elif words[0] == "XBGEN-STEP" and len(words) > 2 and words[2] != "START":
            if words[1].endswith("/connect") and words[2] == "PASS":
                marks.setdefault("first_connected", elapsed)
                if words[1].startswith("stage2"):
                    marks.setdefault("guest_connected", elapsed)
            say(
                f"  {words[2]:<4} {words[1]}"
                + (f"  {' '.join(words[4:])}" if words[2] == "FAIL" else "")
            )

    return on_line


def boot_timings(boot: BootResult, marks: dict[str, float]) -> dict[str, float]:
    """QEMU's run time, and the marks :func:`marker_clock` took."""
    out = {"qemu": boot.seconds}
    if "boot" in marks:
        out["boot"] = marks["boot"]
    if "first_connected" in marks:
        out["to_first_connected"] = marks["first_connected"]
    if "guest_connected" in marks:
        out["to_guest_connected"] = marks["guest_connected"]
    return out
