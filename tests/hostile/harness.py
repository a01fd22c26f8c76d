"""A hostile frontend against a generated backend, on Xen in QEMU, in one boot.

The e2e package builds the tree and packs its dom0 and guest images
(:func:`xbgen.e2e.images.dom0_image`, :func:`~xbgen.e2e.images.guest_image`);
this module adds the hostile frontend (``hostile.c``, built here against the
tree's own ring header) and its own init scripts by appending a second cpio
archive to each image: Linux unpacks concatenated archives in order, so
``/init`` is replaced and nothing in ``xbgen/e2e`` has to know about it.

dom0 plugs a healthy device (the tree's frontend in the guest) and, for each
attack in turn, a hostile device on the same backend, and prints what
happened on the console (``XBGEN-HOSTILE-*`` lines, see ``dom0-init.sh``);
:func:`judge` decides.

    python3 tests/hostile/harness.py TREE [--attack MODE ...] [--keep-logs DIR]
"""

from __future__ import annotations

import argparse
import gzip
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xbgen import build, kernels
from xbgen.e2e import Scenario, images, qemu, report
from xbgen.e2e import assets as assets_mod
from xbgen.e2e import driver as driver_mod
from xbgen.e2e.initramfs import Initramfs
from xbgen.errors import BuildError, E2EError

HERE = Path(__file__).resolve().parent
SOURCES = ("hostile.c", "Kbuild", "Makefile")
MODULE = "xbgen_hostile"
KERNEL_LINE = "6.1"
HEALTHY_DEVID = 0
HOSTILE_DEVID = 1
#: The six attacks of the issue, in the order one boot runs them.
ATTACKS = (
    "ungranted-ref",
    "bad-evtchn",
    "order-too-big",
    "prod-overflow",
    "rewrite",
    "event-storm",
)
#: Two more modes: ``reconnect`` asks for the device back after each cut-off
#: (is the cut-off final?), ``full-batches`` is a well-behaved frontend that
#: fills the whole ring per event (it must not be cut off).
EXTRA = ("reconnect", "full-batches")
MODES = ATTACKS + EXTRA
#: What the backend must say (a dom0 kernel line about the device) when it
#: cuts the attack off; None: nothing the backend must detect.
EXPECTED: dict[str, str | None] = {
    "ungranted-ref": r"mapping in shared page \d+ from domain \d+",
    "bad-evtchn": r"binding event channel \d+",
    "order-too-big": r"ring-page-order \d+ is above the maximum \d+",
    "prod-overflow": r"req_prod \d+ is \d+ past our responses",
    "rewrite": None,
    "event-storm": r"\d+ events in a row brought no request",
    "reconnect": r"req_prod \d+ is \d+ past our responses",
    "full-batches": None,
}
#: Modes the backend must not cut off.
NO_CUT = ("full-batches",)
#: Seconds dom0 waits for the backend's error node after the attack began.
ATTACK_WAIT = 60
#: rewrite runs REWRITE_SECONDS; for it and full-batches dom0 waits a
#: little longer than that for a cut-off that need not come.
REWRITE_SECONDS = 20
STORM_SECONDS = 30
#: Self-test on the healthy device after each attack: requests, in flight.
CHECK = (1000, 8)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Attack:
    """What one attack did to the backend, from dom0's console lines."""

    mode: str
    cut: bool  # the backend wrote its error node (xenbus_dev_fatal)
    closed: bool  # and reached Closing or Closed
    seconds: float | None  # backend connect line -> first error line, dom0 clock
    connects: int  # "Connecting the backend now." lines while the device was plugged
    state: str  # backend state key before the unplug
    unregistered: bool  # the unplug removed the backend device
    kernel_clean: bool
    healthy: str  # the healthy device's states after the attack ("Connected")
    messages: list[str] = field(default_factory=list)  # dom0 kernel lines about the device
    error_node: str = ""
    guest: str = ""  # what the hostile module logged
    kernel_lines: list[str] = field(default_factory=list)
    after: report.SelfTest | None = None
    during: report.SelfTest | None = None
    selftest_failures: list[str] = field(default_factory=list)


@dataclass
class HostileRun:
    """One boot: the harness's verdict, each attack, the timings."""

    ok: bool  # every harness step passed, the run finished, no kernel problem
    failure: str | None
    attacks: dict[str, Attack]
    baseline: report.SelfTest | None
    console: report.Console
    serial_log: Path
    timings: dict[str, float]


def build_hostile(tree: Path, devtype: str, kernel: kernels.KernelTree, work: Path) -> Path:
    """Build ``hostile.c`` against ``kernel`` for ``tree``'s ring header, with W=1.

    Raises :class:`BuildError` on any error or warning.  Host kernel trees
    only (the 6.1 tree the e2e boot uses): a chroot tree would not see
    ``tree/include``.
    """
    if kernel.chroot is not None:
        raise BuildError(
            f"the hostile module builds against host kernel trees only, not {kernel.line}"
        )
    src = work / "hostile"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name in SOURCES:
        shutil.copy2(HERE / name, src / name)
    args = [f"XBH_NAME={devtype}", f"XBH_INCLUDE={(tree / 'include').resolve()}", "W=1", "-j2"]
    cmd, env, seen = build.make_command(src, kernel, args)
    proc = subprocess.run(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    result = build.parse_log(proc.stdout, src, seen)
    problems = [*result.errors, *result.warnings]
    ko = src / f"{MODULE}.ko"
    if proc.returncode != 0 or problems or not ko.is_file():
        shown = "\n".join(map(str, problems)) or proc.stdout[-2000:]
        raise BuildError(f"building the hostile module failed:\n{shown}")
    return ko


def hostile_conf(drv: driver_mod.Driver, attacks: Sequence[str], attack_wait: int) -> str:
    """Settings for both init scripts (sourced after the e2e /xbgen/config)."""
    values = {
        "DEV": drv.devtype,
        "DEVID": str(HEALTHY_DEVID),
        "HOSTILE_DEVID": str(HOSTILE_DEVID),
        "FRONT_MOD": drv.front_mod,
        "BACK_MOD": drv.back_mod,
        "HANDSHAKE_TIMEOUT": "30",
        "CONNECT_BACK": images.logged(drv.back_mod, images.BACK_CONNECT),
        "CHECK_REQUESTS": str(CHECK[0]),
        "CHECK_DEPTH": str(min(CHECK[1], drv.ring.slots if drv.ring else 1)),
        "ATTACKS": " ".join(attacks),
        "ATTACK_WAIT": str(attack_wait),
        "NO_CUT": " ".join(("rewrite", *NO_CUT)),
        "NO_CUT_WAIT": str(REWRITE_SECONDS + 5),
        "HOSTILE_MOD": MODULE,
        "HOSTILE_DRV": f"{drv.devtype}-hostile",
        "HOSTILE_ARGS": f"storm_s={STORM_SECONDS} rewrite_s={REWRITE_SECONDS} reconnects=10",
    }
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def _overlay(base: Path, dest: Path, files: dict[str, tuple[bytes, int]]) -> Path:
    """``base`` with ``files`` added or replaced: a second cpio archive after
    the first, in one gzip stream (Linux reads on past the first trailer, and
    libxenguest sizes a guest's ramdisk from the gzip trailer, so a second
    gzip member would not do).  Later members win."""
    extra = Initramfs()
    for path, (data, mode) in files.items():
        extra.add_bytes(path, data, mode)
    archive = gzip.decompress(base.read_bytes()) + extra.to_cpio()
    dest.write_bytes(gzip.compress(archive, compresslevel=1, mtime=0))
    return dest


def boot_timeout(attacks: Sequence[str], attack_wait: int) -> float:
    """Bound for the whole QEMU run under TCG (each wait inside times out first)."""
    per_attack = attack_wait + STORM_SECONDS + 3 * (CHECK[0] / 200 + 90)
    return 300 + len(attacks) * per_attack


def run(
    tree_dir: Path,
    attacks: Sequence[str] = MODES,
    *,
    accel: str = "auto",
    keep_logs: Path | None = None,
    attack_wait: int = ATTACK_WAIT,
    progress: Progress | None = None,
) -> HostileRun:
    """Boot once and run ``attacks`` against ``tree_dir``'s backend."""
    unknown = [a for a in attacks if a not in MODES]
    if unknown:
        raise E2EError(f"unknown attack(s) {', '.join(unknown)}: choose from {', '.join(MODES)}")
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    timings: dict[str, float] = {}
    started = time.monotonic()
    chosen = qemu.choose_accel(accel)
    kernel = kernels.fetch(KERNEL_LINE, say)
    assets = assets_mod.fetch(kernel.abi, say)
    work = Path(tempfile.mkdtemp(prefix="xbgen-hostile-"))
    try:
        t0 = time.monotonic()
        drv = driver_mod.prepare(tree_dir, kernel, work)
        if drv.ring is None:
            raise E2EError(
                f"{tree_dir} has no ring: there is nothing for a hostile frontend to break"
            )
        tree_copy = drv.front_ko.parent.parent
        ko = build_hostile(tree_copy, drv.devtype, kernel, work)
        timings["build"] = time.monotonic() - t0
        conf = hostile_conf(drv, attacks, attack_wait).encode()
        scenario = Scenario()
        guest_base = images.guest_image(assets, drv, scenario, work / "guest-base.cpio.gz")
        guest = _overlay(guest_base, work / "guest.cpio.gz", {
            "/init": ((HERE / "guest-init.sh").read_bytes(), 0o755),
            "/xbgen/hostile.conf": (conf, 0o644),
            f"/xbgen/hostile/{MODULE}.ko": (ko.read_bytes(), 0o644),
        })  # fmt: skip
        dom0_base = images.dom0_image(assets, drv, scenario, work / "dom0-base.cpio.gz", guest)
        initrd = _overlay(dom0_base, work / "dom0.cpio.gz", {
            "/init": ((HERE / "dom0-init.sh").read_bytes(), 0o755),
            "/xbgen/hostile.conf": (conf, 0o644),
        })  # fmt: skip
        logs = keep_logs or assets_mod.debian.cache_dir() / "e2e" / "logs"
        serial = logs / f"hostile-{time.strftime('%Y%m%d-%H%M%S')}.log"
        cmd = qemu.qemu_command(assets.xen, assets.vmlinuz, initrd, chosen)
        limit = boot_timeout(attacks, attack_wait)
        say(
            f"booting Xen + Linux {assets.abi} ({chosen}, timeout {limit:.0f}s): {', '.join(attacks)}"
        )
        boot = qemu.boot(cmd, serial, limit, on_line=_live(say))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timings["qemu"] = boot.seconds
    timings["total"] = time.monotonic() - started
    text = serial.read_text(errors="replace")
    console = report.parse(text)
    failure = report.verdict(console, timed_out=boot.timed_out, exit_pass=boot.exit_pass)
    found = parse_attacks(text, console)
    return HostileRun(
        ok=failure is None,
        failure=failure,
        attacks=found,
        baseline=console.selftests.get("hostile/baseline"),
        console=console,
        serial_log=serial,
        timings=timings,
    )


def _live(say: Progress) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        at = line.find("XBGEN-")
        if at < 0:
            return
        words = line[at:].split()
        if words[0] == "XBGEN-STEP" and len(words) > 2 and words[2] != "START":
            say(f"  {words[2]:<4} {words[1]}  {' '.join(words[4:])}")
        elif words[0] in ("XBGEN-HOSTILE-MSG", "XBGEN-HOSTILE-GUEST", "XBGEN-HOSTILE-KERNEL"):
            say("       " + " ".join(words))

    return on_line


_FIELD = re.compile(r"(\w+)=(\S+)")
_MARK = re.compile(r"XBGEN-HOSTILE-(RESULT|MSG|ERROR|GUEST|KERNEL|SELFTEST-FAIL) (\S+) ?(.*)")


def parse_attacks(text: str, console: report.Console) -> dict[str, Attack]:
    """The attacks' XBGEN-HOSTILE lines.  dom0 prints them live and again at
    the end (after XBGEN-HOSTILE-REPLAY, when the console is quiet and no
    kernel line can land inside one): the replay wins when there is one."""
    lines = [raw.rstrip("\r") for raw in text.split("\n")]
    replay = [i for i, raw in enumerate(lines) if "XBGEN-HOSTILE-REPLAY" in raw]
    if replay:
        lines = lines[replay[-1] + 1 :]
    results: dict[str, dict[str, str]] = {}
    found: dict[tuple[str, str], list[str]] = {}
    for raw in lines:
        at = raw.find("XBGEN-HOSTILE-")
        match = (
            _MARK.match(raw[at:]) if at >= 0 and not raw.startswith(report.GUEST_PREFIX) else None
        )
        if not match:
            continue
        kind, mode, rest = match.groups()
        mode = mode.removeprefix("hostile/").removesuffix("/after").removesuffix("/during")
        if kind == "RESULT":
            results[mode] = dict(_FIELD.findall(rest))
        else:
            found.setdefault((kind, mode), []).append(rest)
    attacks: dict[str, Attack] = {}
    for mode, fields in results.items():
        secs = fields.get("seconds", "-")
        attacks[mode] = Attack(
            mode=mode,
            cut=fields.get("cut") == "yes",
            closed=fields.get("closed") == "yes",
            seconds=None if secs == "-" else float(secs),
            connects=int(fields.get("connects", "0")),
            state=fields.get("state", "?"),
            unregistered=fields.get("unregistered") == "yes",
            kernel_clean=fields.get("kernel") == "clean",
            healthy=fields.get("healthy", "?"),
            messages=found.get(("MSG", mode), []),
            error_node=" ".join(found.get(("ERROR", mode), [])),
            guest=" ".join(found.get(("GUEST", mode), [])),
            kernel_lines=found.get(("KERNEL", mode), []),
            after=console.selftests.get(f"hostile/{mode}/after"),
            during=console.selftests.get(f"hostile/{mode}/during"),
            selftest_failures=found.get(("SELFTEST-FAIL", mode), []),
        )
    return attacks


def judge(result: HostileRun, attacks: Sequence[str] = MODES) -> list[str]:
    """Every way the backend let the hostile frontend hurt it; [] when none."""
    problems = [] if result.ok else [f"run: {result.failure}"]
    if result.baseline is None or not result.baseline.clean:
        problems.append(f"baseline self-test: {result.baseline}")
    for mode in attacks:
        attack = result.attacks.get(mode)
        if attack is None:
            problems.append(f"{mode}: no result (the run stopped before it)")
            continue
        problems += [f"{mode}: {p}" for p in _attack_problems(attack)]
    return problems


def _attack_problems(attack: Attack) -> list[str]:
    problems = []
    expected = EXPECTED[attack.mode]
    if expected is not None:
        if not attack.cut:
            problems.append("the backend never cut the device off (no error node)")
        elif not any(re.search(expected, m) for m in attack.messages):
            problems.append(f"no backend message like /{expected}/ in {attack.messages}")
        if attack.cut and not attack.closed:
            problems.append(f"error reported but the backend stayed in state {attack.state}")
    if attack.mode in NO_CUT and attack.cut:
        problems.append(f"the backend cut off a well-behaved frontend: {attack.messages}")
    if not attack.kernel_clean:
        problems.append(f"dom0 kernel: {attack.kernel_lines}")
    if not attack.unregistered:
        problems.append("the backend device was still registered after the unplug")
    if attack.healthy != "Connected":
        problems.append(f"healthy device left {attack.healthy}")
    for name, test in (("after", attack.after), ("during", attack.during)):
        if test is not None and not test.clean:
            problems.append(f"healthy self-test {name}: {test}")
    if attack.after is None:
        problems.append("no healthy self-test after the attack")
    problems += [f"healthy self-test: {f}" for f in attack.selftest_failures]
    return problems


def format_run(result: HostileRun) -> str:
    lines = [f"hostile frontend: {'PASS' if result.ok else 'FAIL ' + str(result.failure)}"]
    if result.baseline:
        lines.append(f"  baseline self-test: {_selftest(result.baseline)}")
    for attack in result.attacks.values():
        secs = f"{attack.seconds:.3f}s" if attack.seconds is not None else "-"
        lines.append(
            f"  {attack.mode:<14} cut={'yes' if attack.cut else 'no'} after {secs}, backend "
            f"state {attack.state}, {attack.connects} connect(s), "
            f"dom0 kernel {'clean' if attack.kernel_clean else 'NOT clean'}"
        )
        lines += [f"      backend: {m}" for m in attack.messages]
        if attack.error_node:
            lines.append(f"      error node: {attack.error_node}")
        if attack.guest:
            lines.append(f"      hostile: {attack.guest}")
        lines += [f"      dom0 kernel: {k}" for k in attack.kernel_lines]
        if attack.during:
            lines.append(f"      healthy during: {_selftest(attack.during)}")
        if attack.after:
            lines.append(f"      healthy after:  {_selftest(attack.after)}")
    lines.append("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items()))
    lines.append(f"serial log: {result.serial_log}")
    return "\n".join(lines)


def _selftest(test: report.SelfTest) -> str:
    return (
        f"requests={test.requests} ok={test.ok} bad={test.bad} timeouts={test.timeouts} "
        f"roundtrip {test.roundtrip_ns / 1000:.0f} us, {test.per_s}/s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--attack", action="append", choices=MODES, dest="attacks")
    parser.add_argument("--keep-logs", type=Path)
    parser.add_argument("--accel", default="auto")
    parser.add_argument("--attack-wait", type=int, default=ATTACK_WAIT)
    args = parser.parse_args(argv)
    attacks = tuple(args.attacks or MODES)
    result = run(
        args.tree, attacks, accel=args.accel, keep_logs=args.keep_logs,
        attack_wait=args.attack_wait,
    )  # fmt: skip
    print(format_run(result))
    problems = judge(result, attacks)
    for problem in problems:
        print(f"PROBLEM {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
