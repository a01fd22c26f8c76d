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

With ``contract=True`` the same boot then runs issue 15's stages
(``contract.sh``): a variant of the tree's backend whose handler sleeps
:data:`SLEEP_MS` per request (:func:`sleepy_user_c`, built here), a second
guest, the frontend's call contract; ``XBGEN-CONTRACT`` lines, judged by
:func:`judge_contract`.

    python3 tests/hostile/harness.py TREE [--attack MODE ...] [--keep-logs DIR]
"""

from __future__ import annotations

import argparse
import errno
import os
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
from xbgen.e2e.initramfs import overlay
from xbgen.errors import BuildError, E2EError

HERE = Path(__file__).resolve().parent
SOURCES = ("hostile.c", "hostile_back.c", "Kbuild", "Makefile")
MODULE = "xbgen_hostile"
BACK_MODULE = "xbgen_hostile_back"
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
#: Issue 17's attacks on a call's buffer, for trees with ``[ring.buffer]``.
BUF_ATTACKS = (
    "buf-ungranted",
    "buf-readonly",
    "buf-past-page",
    "buf-too-long",
    "buf-too-many",
    "buf-same-ref",
    "buf-garbage",
    "buf-rewrite",
)
#: ... and one for trees with transfer = "map": a page per call, until the
#: backend refuses to map more (on a copy tree it never would).
MAP_ATTACKS = ("buf-many-grants",)
MODES = ATTACKS + EXTRA + BUF_ATTACKS
ALL_MODES = MODES + MAP_ATTACKS
#: What the backend says when it cuts a bad buffer off.
BUF_CUT = (
    r"buffer of \d+ bytes in \d+ segments is past the maximum|segment \d+: |"
    r"segments carry \d+ bytes, buf_len says \d+|grant reference \d+ in two segments|"
    r"indirect page \d+: "
)
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
    # A grant that is not there (never given, or read-only for a write) is
    # no violation the backend can tell from a frontend that ended the grants
    # of the calls it failed: it answers "unreachable" and warns.
    "buf-ungranted": None,
    "buf-readonly": None,
    "buf-past-page": r"segment 0: \d+ bytes at \d+ pass its page",
    "buf-too-long": r"buffer of \d+ bytes in 1 segments is past the maximum",
    "buf-too-many": r"buffer of \d+ bytes in \d+ segments is past the maximum",
    "buf-same-ref": r"grant reference \d+ in two segments",
    "buf-garbage": BUF_CUT,
    "buf-rewrite": None,
    "buf-many-grants": r"more than \d+ persistent grants",
}
#: Modes the backend must not cut off.
NO_CUT = ("full-batches", "buf-ungranted", "buf-readonly")
#: ... and of those, the ones whose attack is over at once (dom0 waits
#: QUICK_WAIT for a cut-off that must not come).
QUICK = ("buf-ungranted", "buf-readonly")
QUICK_WAIT = 5
#: Modes the backend may or may not cut off, and what it must say if it does.
MAY_CUT = {"rewrite": None, "buf-rewrite": BUF_CUT}
#: What the hostile module must have logged (its "note", one line).
_UNREACHABLE_THEN_SERVED = (
    r"bad call: answered, buf_status 1 buf_len 0;.*then a valid call: answered, "
    r"buf_status 0 buf_len \d+"
)
GUEST_SAYS = {
    "buf-ungranted": _UNREACHABLE_THEN_SERVED,
    "buf-readonly": _UNREACHABLE_THEN_SERVED,
    "buf-rewrite": r"buf-rewrite: [1-9]\d* calls spoilt after the push",
}
#: The hostile backend's modes (hostile_back.c), run against the tree's own
#: frontend after the attacks: what the frontend must say of each.  The
#: last two need a tree with [ring.buffer].
BACK_MODES = {
    "twice": r"backend broke the ring protocol: response to no request, id",
    "long-buf": r"backend broke the ring protocol: response writes past its buffer, buf_len",
    "bad-status": r"backend broke the ring protocol: response with no such buf_status",
}
#: The self-test against each: 4 calls, 2 in flight, buffers of this many bytes.
BACK_SIZE = 512
#: What dom0's kernel must have said about the device, for modes not cut off.
#: (transfer = "copy" copies by grant, "map" maps the page.)
_NOT_REACHED = r"grant copy to reference \d+ failed|mapping grant reference \d+ failed"
BACKEND_SAYS = {"buf-ungranted": _NOT_REACHED, "buf-readonly": _NOT_REACHED}
#: Seconds dom0 waits for the backend's error node after the attack began.
ATTACK_WAIT = 60
#: rewrite runs REWRITE_SECONDS; for it and full-batches dom0 waits a
#: little longer than that for a cut-off that need not come.
REWRITE_SECONDS = 20
STORM_SECONDS = 30
#: Self-test on the healthy device after each attack: requests, in flight.
CHECK = (1000, 8)

# Issue 15's stages (contract.sh).
#: What the sleeping backend's handler sleeps per request.
SLEEP_MS = 2000
#: The frontend's NAMEFRONT_CALL_TIMEOUT, seconds.
CALL_TIMEOUT = 10
#: The issue's bound for each state change of the second guest's device,
#: measured on dom0's clock.
PROMPT_SECONDS = 2.0
#: Slack for what a loaded host adds to a bound that the kernel keeps (a
#: call's timeout, rmmod waiting for the running handler).
SLACK = 10.0
#: How long dom0 waits for each state (or script) before giving up on it: a
#: stalled xenwatch thread holds it for a whole ring of handlers, 64 x 2 s.
CONTRACT_WAIT = 150
#: How long the guest waits for a self-test write whose calls must all end
#: within CALL_TIMEOUT (their timeout) plus SLACK, before it reports it stuck.
CALL_WAIT = 60
#: The second guest's name (and the console prefix [guest:b]).
GUEST_B = "xbgen-b"
#: Bound for the stages in a boot's timeout: guest B's boot, then the
#: waits that can run out when something stalls.
CONTRACT_BOOT = 120 + 8 * CONTRACT_WAIT

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
    #: Issue 15's stages: XBGEN-CONTRACT NAME -> its KEY=VALUE fields.
    contract: dict[str, dict[str, str]] = field(default_factory=dict)
    #: ... and XBGEN-CONTRACT-KERNEL lines (dom0's complaints) per stage.
    contract_kernel: dict[str, list[str]] = field(default_factory=dict)
    #: The hostile backends: mode -> the XBGEN-HOSTILE-BACK fields (said: the
    #: frontend's lines about the backend's protocol breach).
    backends: dict[str, dict[str, str]] = field(default_factory=dict)


def _make(src: Path, kernel: kernels.KernelTree, args: list[str], what: str) -> None:
    """``make args`` in ``src`` against ``kernel``; BuildError on any error or warning."""
    cmd, env, seen = build.make_command(src, kernel, args)
    proc = subprocess.run(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )
    result = build.parse_log(proc.stdout, src, seen)
    problems = [*result.errors, *result.warnings]
    if proc.returncode != 0 or problems:
        shown = "\n".join(map(str, problems)) or proc.stdout[-2000:]
        raise BuildError(f"building {what} failed:\n{shown}")


def build_hostile(
    tree: Path, devtype: str, kernel: kernels.KernelTree, work: Path
) -> tuple[Path, Path]:
    """Build ``hostile.c`` and ``hostile_back.c`` against ``kernel`` for
    ``tree``'s ring header, with W=1: the frontend's and the backend's module.

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
    _make(src, kernel, args, "the hostile modules")
    kos = (src / f"{MODULE}.ko", src / f"{BACK_MODULE}.ko")
    for ko in kos:
        if not ko.is_file():
            raise BuildError(f"building the hostile modules made no {ko.name}")
    return kos


#: A function definition's head: its return type, name NAME and parameters.
_HANDLER = r"^(?P<ret>[^\n;{}()]*?)\bNAME\s*\((?P<params>[^)]*)\)\s*\{"


def sleepy_user_c(text: str, devtype: str, sleep_ms: int = SLEEP_MS) -> str:
    """The backend's user file ``text`` with a handler that first sleeps
    ``sleep_ms`` (msleep) and logs ``xbgen-sleepy: request N``, then does
    what the user's handler does: the user's ``DEVTYPEback_handle`` is
    renamed and called from a new one with the same signature."""
    name = f"{devtype}back_handle"
    found = list(re.finditer(_HANDLER.replace("NAME", re.escape(name)), text, re.M))
    if len(found) != 1:
        raise E2EError(f"{name}() is defined {len(found)} times in the backend's user file")
    match = found[0]
    ret = " ".join(match["ret"].split())
    params = " ".join(match["params"].split())
    args = ", ".join(re.findall(r"(\w+)\s*(?:\[[^]]*\])?\s*(?:,|$)", params))
    body = match.group(0).replace(name, "xbgen_user_handle", 1)
    call = f"xbgen_user_handle({args});"
    wrapper = (
        f"\n/* The e2e test's sleeping handler (issue 15). */\n"
        f"{ret} {name}({params})\n{{\n"
        f'\tpr_info("xbgen-sleepy: request %d, %u ms\\n",\n'
        f"\t\tatomic_inc_return(&xbgen_sleepy_calls), XBGEN_SLEEP_MS);\n"
        f"\tmsleep(XBGEN_SLEEP_MS);\n"
        f"\t{call if ret == 'void' else 'return ' + call}\n}}\n"
    )
    renamed = "static " + body.lstrip() if not body.lstrip().startswith("static") else body
    text = text[: match.start()] + renamed + text[match.end() :] + wrapper
    head = "#include <linux/atomic.h>\n#include <linux/delay.h>\n#include <linux/printk.h>\n"
    at = text.find("#include")
    if at < 0:
        raise E2EError("the backend's user file includes nothing: where would the headers go?")
    text = text[:at] + head + text[at:]
    decls = (
        f"\n#define XBGEN_SLEEP_MS\t{sleep_ms}U\n"
        "static atomic_t xbgen_sleepy_calls = ATOMIC_INIT(0);\n"
    )
    last = text.rfind("#include", 0, text.find("xbgen_user_handle"))
    eol = text.index("\n", last) + 1
    return text[:eol] + decls + text[eol:]


def build_sleepy(tree: Path, devtype: str, kernel: kernels.KernelTree, work: Path) -> Path:
    """The backend of the built tree copy ``tree`` with :func:`sleepy_user_c`'s
    handler, built against ``kernel`` with W=1 (BuildError on any warning)."""
    copy = work / "sleepy" / tree.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("*.ko", "*.o", ".*.cmd", "*.mod*"))
    user = copy / "backend" / f"{devtype}back_user.c"
    user.write_text(sleepy_user_c(user.read_text(), devtype))
    _make(copy / "backend", kernel, ["W=1", "-j2"], "the sleeping backend")
    kos = sorted((copy / "backend").glob("*.ko"))
    if len(kos) != 1:
        raise BuildError(f"building the sleeping backend made {len(kos)} modules, want 1")
    return kos[0]


def build_frontend(tree: Path, kernel: kernels.KernelTree, work: Path, what: str) -> Path:
    """The frontend of tree ``tree`` (another variant of the spec), built
    against ``kernel`` with W=1 into ``work/what``."""
    copy = work / what / tree.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("*.ko", "*.o", ".*.cmd", "*.mod*"))
    _make(copy / "frontend", kernel, ["W=1", "-j2"], f"the {what} frontend")
    kos = sorted((copy / "frontend").glob("*.ko"))
    if len(kos) != 1:
        raise BuildError(f"building the {what} frontend made {len(kos)} modules, want 1")
    return kos[0]


def back_modes(drv: driver_mod.Driver) -> tuple[str, ...]:
    """The hostile backend's modes that ``drv``'s tree can be tried with."""
    if drv.ring is not None and drv.ring.buffer_max:
        return tuple(BACK_MODES)
    return ("twice",)


def hostile_conf(
    drv: driver_mod.Driver, attacks: Sequence[str], attack_wait: int, contract: bool = False
) -> str:
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
        "NO_CUT": " ".join((*MAY_CUT, *NO_CUT)),
        "NO_CUT_WAIT": str(REWRITE_SECONDS + 5),
        "QUICK": " ".join(QUICK),
        "QUICK_WAIT": str(QUICK_WAIT),
        "HOSTILE_MOD": MODULE,
        "HOSTILE_DRV": f"{drv.devtype}-hostile",
        "HOSTILE_ARGS": f"storm_s={STORM_SECONDS} rewrite_s={REWRITE_SECONDS} reconnects=10",
        "HOSTILE_BACK_MOD": BACK_MODULE,
        "BACK_MODES": " ".join(back_modes(drv)),
        "BACK_SIZE": str(BACK_SIZE) if drv.ring is not None and drv.ring.buffer_max else "",
        "CONTRACT": "1" if contract else "0",
        "CONTRACT_WAIT": str(CONTRACT_WAIT),
        "CALL_WAIT": str(CALL_WAIT),
        "GUEST_B": GUEST_B,
    }
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def boot_timeout(attacks: Sequence[str], attack_wait: int, contract: bool = False) -> float:
    """Bound for the whole QEMU run under TCG (each wait inside times out first)."""
    per_attack = attack_wait + STORM_SECONDS + 3 * (CHECK[0] / 200 + 90)
    backends = len(BACK_MODES) * (90 + 3 * 30 + 60)
    return 300 + len(attacks) * per_attack + backends + (CONTRACT_BOOT if contract else 0)


def run(
    tree_dir: Path,
    attacks: Sequence[str] = MODES,
    *,
    accel: str = "auto",
    keep_logs: Path | None = None,
    attack_wait: int = ATTACK_WAIT,
    progress: Progress | None = None,
    contract: bool = False,
    reissue_tree: Path | None = None,
    arch: str = assets_mod.DEFAULT_ARCH,
) -> HostileRun:
    """Boot once and run ``attacks`` against ``tree_dir``'s backend, then
    (``contract``) issue 15's stages with a second guest and issue 16's
    resume stage, whose second half runs the frontend of ``reissue_tree``
    (the same spec with ``ring.on_resume = "reissue"``).  ``arch``: the
    architecture booted (arm64: Xen on Arm, no save/resume stage there)."""
    if arch != assets_mod.DEFAULT_ARCH and contract:
        raise E2EError(f"the contract stages save and restore a guest: not on {arch}")
    unknown = [a for a in attacks if a not in ALL_MODES]
    if unknown:
        raise E2EError(
            f"unknown attack(s) {', '.join(unknown)}: choose from {', '.join(ALL_MODES)}"
        )
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    timings: dict[str, float] = {}
    started = time.monotonic()
    chosen = qemu.accel_for(arch, accel)
    kernel = kernels.fetch(KERNEL_LINE, say, arch=arch)
    assets = assets_mod.fetch(kernel.abi, say)
    work = Path(tempfile.mkdtemp(prefix="xbgen-hostile-"))
    try:
        t0 = time.monotonic()
        drv = driver_mod.prepare(tree_dir, kernel, work)
        if drv.ring is None:
            raise E2EError(
                f"{tree_dir} has no ring: there is nothing for a hostile frontend to break"
            )
        unbuffered = [
            a for a in attacks if a in BUF_ATTACKS + MAP_ATTACKS and not drv.ring.buffer_max
        ]
        if unbuffered:
            raise E2EError(
                f"{tree_dir}'s spec has no [ring.buffer]: the attacks {', '.join(unbuffered)} "
                f"need one"
            )
        tree_copy = drv.front_ko.parent.parent
        ko, back_ko = build_hostile(tree_copy, drv.devtype, kernel, work)
        dom0_files = {}
        guest_files = {}
        if contract and reissue_tree is not None:
            reissue = build_frontend(reissue_tree, kernel, work, "reissue")
            guest_files[f"/xbgen/reissue/{drv.front_mod}.ko"] = (reissue.read_bytes(), 0o644)
        if contract:
            sleepy = build_sleepy(tree_copy, drv.devtype, kernel, work)
            dom0_files = {
                "/xbgen/contract.sh": ((HERE / "contract.sh").read_bytes(), 0o644),
                f"/xbgen/sleepy/{drv.back_mod}.ko": (sleepy.read_bytes(), 0o644),
            }
        timings["build"] = time.monotonic() - t0
        conf = hostile_conf(drv, attacks, attack_wait, contract).encode()
        scenario = Scenario(arch=arch)
        guest_base = images.guest_image(assets, drv, scenario, work / "guest-base.cpio.gz")
        guest = overlay(guest_base, work / "guest.cpio.gz", {
            "/init": ((HERE / "guest-init.sh").read_bytes(), 0o755),
            "/xbgen/hostile.conf": (conf, 0o644),
            f"/xbgen/hostile/{MODULE}.ko": (ko.read_bytes(), 0o644),
            **guest_files,
        })  # fmt: skip
        dom0_base = images.dom0_image(assets, drv, scenario, work / "dom0-base.cpio.gz", guest)
        initrd = overlay(dom0_base, work / "dom0.cpio.gz", {
            "/init": ((HERE / "dom0-init.sh").read_bytes(), 0o755),
            "/xbgen/hostile.conf": (conf, 0o644),
            f"/xbgen/hostile/{BACK_MODULE}.ko": (back_ko.read_bytes(), 0o644),
            **dom0_files,
        })  # fmt: skip
        logs = keep_logs or assets_mod.debian.cache_dir() / "e2e" / "logs"
        serial = logs / f"hostile-{time.strftime('%Y%m%d-%H%M%S')}.log"
        # One physical CPU per domain (qemu.py says why): dom0, A and B.
        cpus = 3 if contract else 2
        cmd, pass_code = qemu.command_for(arch, assets.xen, assets.vmlinuz, initrd, chosen, cpus)
        limit = boot_timeout(attacks, attack_wait, contract)
        say(
            f"booting Xen + Linux {assets.abi} ({chosen}, timeout {limit:.0f}s): {', '.join(attacks)}"
        )
        boot = qemu.boot(cmd, serial, limit, _live(say), pass_code)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timings["qemu"] = boot.seconds
    timings["total"] = time.monotonic() - started
    text = serial.read_text(errors="replace")
    console = report.parse(text)
    failure = report.verdict(console, timed_out=boot.timed_out, exit_pass=boot.exit_pass)
    found = parse_attacks(text, console)
    stages, kernel_lines = parse_contract(text)
    backends = parse_backends(text)
    if "contract/setup" in console.steps:
        for name in ("setup", "stall", "unload", "wrap"):
            step = console.steps.get(f"contract/{name}")
            if step is not None and step.seconds is not None:
                timings[f"contract/{name}"] = step.seconds
    return HostileRun(
        ok=failure is None,
        failure=failure,
        attacks=found,
        baseline=console.selftests.get("hostile/baseline"),
        console=console,
        serial_log=serial,
        timings=timings,
        contract=stages,
        contract_kernel=kernel_lines,
        backends=backends,
    )


def _live(say: Progress) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        at = line.find("XBGEN-")
        if at < 0:
            return
        words = line[at:].split()
        if words[0] == "XBGEN-STEP" and len(words) > 2 and words[2] != "START":
            say(f"  {words[2]:<4} {words[1]}  {' '.join(words[4:])}")
        elif words[0] in (
            "XBGEN-HOSTILE-MSG", "XBGEN-HOSTILE-GUEST", "XBGEN-HOSTILE-KERNEL", "XBGEN-HOSTILE-BACK",
            "XBGEN-CONTRACT", "XBGEN-CONTRACT-KERNEL",
        ):  # fmt: skip
            say("       " + " ".join(words))

    return on_line


def _replayed(text: str) -> list[str]:
    """The console's lines, from the last XBGEN-HOSTILE-REPLAY on if there is
    one (dom0 prints its records again there, when no kernel line can land
    inside one)."""
    lines = [raw.rstrip("\r") for raw in text.split("\n")]
    replay = [i for i, raw in enumerate(lines) if "XBGEN-HOSTILE-REPLAY" in raw]
    return lines[replay[-1] + 1 :] if replay else lines


_FIELD = re.compile(r"(\w+)=(\S+)")
_MARK = re.compile(r"XBGEN-HOSTILE-(RESULT|MSG|ERROR|GUEST|KERNEL|SELFTEST-FAIL) (\S+) ?(.*)")


def parse_attacks(text: str, console: report.Console) -> dict[str, Attack]:
    """The attacks' XBGEN-HOSTILE lines.  dom0 prints them live and again at
    the end (after XBGEN-HOSTILE-REPLAY, when the console is quiet and no
    kernel line can land inside one): the replay wins when there is one."""
    lines = _replayed(text)
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


_BACK = re.compile(r"XBGEN-HOSTILE-BACK (\S+) (.*?)(?: said=(.*))?$")


def parse_backends(text: str) -> dict[str, dict[str, str]]:
    """The XBGEN-HOSTILE-BACK lines (the replay's, when there is one)."""
    lines = _replayed(text)
    found: dict[str, dict[str, str]] = {}
    for raw in lines:
        at = raw.find("XBGEN-HOSTILE-BACK ")
        match = _BACK.match(raw[at:]) if at >= 0 else None
        if match:
            mode, rest, said = match.groups()
            found[mode] = {**dict(_FIELD.findall(rest)), "said": said or "-"}
    return found


def judge_backend(result: HostileRun, mode: str) -> list[str]:
    """What the tree's frontend let the hostile backend in ``mode`` do; [] if nothing."""
    fields = result.backends.get(mode)
    if fields is None:
        return [f"back-{mode}: no result (the run stopped before it: {result.failure})"]
    problems = []
    if not re.search(BACK_MODES[mode], fields["said"]):
        problems.append(f"the frontend said nothing like /{BACK_MODES[mode]}/: {fields['said']!r}")
    ok, bad = int(fields.get("ok", "-1")), int(fields.get("bad", "0"))
    # twice: the first call's answer was a true one; every call after it must fail.
    allowed = 1 if mode == "twice" else 0
    if "requests" not in fields or ok > allowed or bad < 1:
        problems.append(
            f"the self-test's calls: want at most {allowed} ok and at least 1 refused, got {fields}"
        )
    if fields.get("deactivate") != "0" or fields.get("gone") != "yes":
        problems.append(
            f"unplugging it: deactivate.sh exited {fields.get('deactivate')}, backend device "
            f"gone: {fields.get('gone')}"
        )
    for side in ("dom0", "guest_kernel"):
        if fields.get(side) != "clean":
            problems.append(f"{side.removesuffix('_kernel')}'s kernel complained")
    return [f"back-{mode}: {p}" for p in problems]


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
    may = MAY_CUT.get(attack.mode)
    if attack.cut and may is not None and not any(re.search(may, m) for m in attack.messages):
        problems.append(f"cut off, but with no backend message like /{may}/ in {attack.messages}")
    says = GUEST_SAYS.get(attack.mode)
    if says is not None and not re.search(says, attack.guest):
        problems.append(f"the hostile module logged nothing like /{says}/: {attack.guest!r}")
    says = BACKEND_SAYS.get(attack.mode)
    if says is not None and not any(re.search(says, m) for m in attack.messages):
        problems.append(f"no backend message like /{says}/ in {attack.messages}")
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


_CONTRACT = re.compile(r"XBGEN-CONTRACT(-KERNEL)? (\S+) ?(.*)")
#: strerror() texts as the guest's shell prints them (spaces as _) -> errno names.
ERRNO_NAMES = {os.strerror(code).replace(" ", "_"): name for code, name in errno.errorcode.items()}
#: What a self-test's calls may end with (the frontend header's contract):
#: not sent, or outcome unknown.
DOCUMENTED = {"ENOTCONN", "EBUSY", "EINTR", "ETIMEDOUT", "ECONNRESET", "EIO", "ECANCELED"}
CONTRACT_STAGES = ("stall", "resume", "unload", "wrap", "end")


def parse_contract(text: str) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """The XBGEN-CONTRACT lines (the replay's when there is one, as for the
    attacks): stage or sub-stage name -> fields, and the kernel lines per stage."""
    lines = _replayed(text)
    stages: dict[str, dict[str, str]] = {}
    kernel: dict[str, list[str]] = {}
    for raw in lines:
        at = raw.find("XBGEN-CONTRACT")
        if at < 0 or report.GUEST_LINE.match(raw):
            continue
        match = _CONTRACT.match(raw[at:])
        if not match:
            continue
        is_kernel, name, rest = match.groups()
        if is_kernel:
            kernel.setdefault(name.removeprefix("contract/"), []).append(rest)
        else:
            stages[name] = dict(_FIELD.findall(rest))
    return stages, kernel


def _secs(fields: dict[str, str], key: str) -> float | None:
    value = fields.get(key, "-")
    try:
        return float(value)
    except ValueError:
        return None


def errno_name(fields: dict[str, str]) -> str | None:
    """The errno a guest's write failed with (None when it succeeded)."""
    if fields.get("rc", "0") == "0":
        return None
    err = fields.get("err", "-")
    return ERRNO_NAMES.get(err, err)


def _write_problems(what: str, fields: dict[str, str] | None, bound: float) -> list[str]:
    """A self-test write that must have returned within ``bound`` seconds,
    its calls accounted for, its error (if any) a documented one."""
    if fields is None:
        return [f"{what}: no result (the run stopped before it)"]
    if "answer" in fields or "failed" in fields:
        why = fields.get("failed", "no answer from the guest").replace("_", " ")
        return [f"{what}: the write did not return: {why}"]
    problems = []
    secs = _secs(fields, "secs")
    if secs is None or secs > bound:
        problems.append(f"{what}: the write returned after {secs} s, want <= {bound:.1f} s")
    err = errno_name(fields)
    if err is not None and err not in DOCUMENTED:
        problems.append(f"{what}: the write failed with {err}, not one of {sorted(DOCUMENTED)}")
    counts = {k: int(v) for k, v in fields.items() if v.isdigit()}
    outcomes = sum(counts.get(k, 0) for k in ("ok", "bad", "timeouts"))
    if "requests" in counts and outcomes != counts["requests"]:
        problems.append(
            f"{what}: {counts['requests']} requests sent but {outcomes} outcomes counted: {fields}"
        )
    return problems


def _prompt(problems: list[str], what: str, start: float | None, end: float | None) -> None:
    """The state change ``what`` must come within PROMPT_SECONDS of ``start``."""
    if start is None:
        return  # the earlier one already failed
    if end is None:
        problems.append(f"{what}: never seen within {CONTRACT_WAIT} s")
    elif end - start > PROMPT_SECONDS:
        problems.append(f"{what}: {end - start:.2f} s, want <= {PROMPT_SECONDS:.0f} s")


def _kernel_problems(name: str, fields: dict[str, str], run: HostileRun) -> list[str]:
    problems = []
    if fields.get("hung", "0") != "0":
        problems.append(f"dom0 reported a hung task: {run.contract_kernel.get(name, [])}")
    if fields.get("kernel") != "clean":
        problems.append(f"dom0's kernel complained: {run.contract_kernel.get(name, [])}")
    return problems


#: How long a self-test across a save may take: the save and restore (about
#: 10 s each here), a call's timeout before and after, and slack.
RESUME_WRITE = 180.0


def _judge_resume(sub: Callable[[str], dict[str, str] | None]) -> list[str]:
    """Issue 16's stage: both halves (on_resume "fail", then "reissue")."""
    problems: list[str] = []
    for variant in ("fail", "reissue"):
        what = f"resume ({variant})"
        fields, test = sub(f"resume/{variant}"), sub(f"resume/{variant}-selftest")
        if fields is None:
            problems.append(f"{what}: no result (the run stopped before it)")
            continue
        inflight = fields.get("inflight", "-")
        if not inflight.isdigit() or int(inflight) < 1:
            problems.append(
                f"{what}: {inflight} calls in flight at the save, want at least 1 (with a "
                f"backend that sleeps {SLEEP_MS} ms a request the stage proves nothing else)"
            )
            continue
        problems += _write_problems(
            f"{what}: guest A's self-test across the save", test, RESUME_WRITE
        )
        if test is None or "requests" not in test:
            continue
        bad, timeouts = int(test.get("bad", "-1")), int(test.get("timeouts", "-1"))
        again = int(fields.get("sent_again", "0"))
        if timeouts != 0:
            problems.append(f"{what}: {timeouts} calls timed out: {test}")
        if variant == "fail" and (bad != int(inflight) or again != 0):
            problems.append(
                f"{what}: {inflight} calls were in flight at the save and must fail "
                f"(ECONNRESET), {bad} failed and {again} were sent again"
            )
        if variant == "reissue" and (bad != 0 or again != int(inflight)):
            problems.append(
                f"{what}: {inflight} calls were in flight at the save and must be sent again "
                f"and answered: {again} were sent again, {bad} failed"
            )
        if fields.get("irq_dev") != "1":
            problems.append(
                f"{what}: guest A has {fields.get('irq_dev')} IRQs for the device, want 1"
            )
        if _secs(fields, "old_gone") is None:
            problems.append(
                f"{what}: the old domain is still there 30 s after the restore (dying: the "
                f"backend still maps some of its pages)"
            )
        if fields.get("deactivate_rc") != "0" or _secs(fields, "gone") is None:
            problems.append(
                f"{what}: unplugging guest A afterwards: deactivate.sh exited "
                f"{fields.get('deactivate_rc')}, backend device gone at {fields.get('gone')}"
            )
    return problems


def judge_contract(run: HostileRun, stage: str) -> list[str]:
    """What went wrong in issue 15's stage ``stage`` (one of CONTRACT_STAGES); [] if nothing."""
    fields = run.contract.get(stage)
    if fields is None:
        return [f"{stage}: no XBGEN-CONTRACT line (the run stopped before it: {run.failure})"]
    problems: list[str] = []
    sub = run.contract.get
    if stage == "stall":
        # Each of B's state changes from the one before, dom0's clock: the
        # backend driver's states from sysfs, the toolstack's writes
        # (Initialising, Closing) from xenstore watch events.  The plug
        # counts from activate.sh's return when that came first: should an
        # event come late, a stall cannot hide behind it.
        plugged = [t for t in (_secs(fields, k) for k in ("b_initialising", "b_activated")) if t]
        initwait, connected = _secs(fields, "b_initwait"), _secs(fields, "b_connected")
        closing, closed = _secs(fields, "b_closing"), _secs(fields, "b_closed")
        _prompt(
            problems,
            "guest B's backend from Initialising (activate.sh's last write) to InitWait",
            min(plugged) if plugged else None,
            initwait,
        )
        _prompt(
            problems, "guest B's backend from InitWait to Connected (B's frontend answered)",
            initwait, connected,
        )  # fmt: skip
        if connected is not None and closing is None:
            problems.append("guest B's backend: deactivate.sh's Closing was never seen")
        _prompt(
            problems, "guest B's backend from Closing (deactivate.sh) to Closed (B's frontend "
            "closed)", closing, closed,
        )  # fmt: skip
        _prompt(
            problems, "guest B's backend device from Closed to unregistered (sysfs)",
            closed, _secs(fields, "b_gone"),
        )  # fmt: skip
        for who in ("b", "a"):
            rc = fields.get(f"{who}_deactivate_rc")
            if rc != "0":
                problems.append(
                    f"deactivate.sh for guest {who.upper()} exited {rc} (it waits up to 10 s "
                    f"for both ends to write Closed; '-': still running after {CONTRACT_WAIT} s)"
                )
        if _secs(fields, "a_gone") is None:
            problems.append(f"guest A's backend device still registered {CONTRACT_WAIT} s on")
        # A's calls were on the ring when it was unplugged: they end then, not a ring of
        # handlers later.
        started, unplugged = _secs(fields, "selftest"), _secs(fields, "a_deactivate")
        lead = (unplugged - started) if started is not None and unplugged is not None else 0.0
        problems += _write_problems(
            "guest A's self-test, unplugged with a full ring in flight",
            sub("stall/a-selftest"), lead + CALL_TIMEOUT + SLACK,
        )  # fmt: skip
    elif stage == "resume":
        problems += _judge_resume(sub)
    elif stage == "unload":
        unbind, unbound = _secs(fields, "unbind"), _secs(fields, "unbound")
        done = _secs(fields, "rmmoded")
        if unbind is None or unbound is None:
            problems.append(
                f"unbinding A's device from the sleeping backend still blocked after "
                f"{CONTRACT_WAIT} s"
            )
        elif done is None:
            problems.append(f"rmmod of the sleeping backend still blocked after {CONTRACT_WAIT} s")
        else:
            bound = SLEEP_MS / 1000 + SLACK
            if done - unbind > bound:
                problems.append(
                    f"unbind and rmmod of the sleeping backend took {done - unbind:.1f} s "
                    f"(unbind {unbound - unbind:.1f} s) with a full ring queued: they may wait "
                    f"for the running handler ({SLEEP_MS} ms), want <= {bound:.0f} s"
                )
        for what in ("unbind", "rmmod"):
            if done is not None and fields.get(f"{what}_rc") != "0":
                problems.append(f"{what} of the sleeping backend exited {fields.get(f'{what}_rc')}")
        test = sub("unload/selftest")
        problems += _write_problems(
            "guest A's self-test, its backend unloaded with a full ring in flight",
            test, CALL_TIMEOUT + SLACK,
        )  # fmt: skip
        if test is not None and "requests" in test and int(test.get("timeouts", "0")) < 1:
            problems.append(
                f"guest A's self-test: no call timed out although the backend went with "
                f"the ring full: {test}"
            )
        queued = sub("unload/queued")
        problems += _write_problems(
            "a call queueing for a slot of the full ring", queued, CALL_TIMEOUT + SLACK
        )
        if queued is not None and "secs" in queued:
            if errno_name(queued) != "EBUSY":
                problems.append(
                    f"a call queueing for a slot of the full ring: want EBUSY (not sent, the "
                    f"ring stayed full), got {errno_name(queued) or 'success'}"
                )
            secs = _secs(queued, "secs")
            if secs is not None and secs < CALL_TIMEOUT - 1:
                problems.append(
                    f"a call queueing for a slot gave up after {secs} s, before its "
                    f"{CALL_TIMEOUT} s timeout"
                )
        if fields.get("deactivate_rc") != "0" or _secs(fields, "gone") is None:
            problems.append(
                f"unplugging guest A afterwards: deactivate.sh exited "
                f"{fields.get('deactivate_rc')}, backend device gone at {fields.get('gone')}"
            )
    elif stage == "wrap":
        write = sub("wrap/write")
        if write is None or "secs" not in write:
            problems.append(f"writing '4294967295 2' to the self-test did not return: {write}")
        elif errno_name(write) != "EINVAL":
            problems.append(
                f"writing '4294967295 2' to the self-test must fail with EINVAL, got "
                f"{errno_name(write) or 'success'}: {write}"
            )
        if fields.get("deactivate_rc") != "0" or _secs(fields, "gone") is None:
            problems.append(
                f"the disconnect after it: deactivate.sh exited {fields.get('deactivate_rc')} "
                f"(both ends must write Closed within 10 s), backend device gone at "
                f"{fields.get('gone')}"
            )
        rmmod = sub("wrap/front-rmmod")
        if rmmod is None or "failed" in rmmod or "answer" in rmmod:
            why = (
                "no result"
                if rmmod is None
                else rmmod.get("failed", "no answer from the guest within 60 s").replace("_", " ")
            )
            problems.append(f"rmmod of the frontend in the guest (bounded by 30 s there): {why}")
        if fields.get("back_rmmod_rc") != "0":
            problems.append(
                f"rmmod of the backend exited {fields.get('back_rmmod_rc')} ('-': still "
                f"blocked after 30 s)"
            )
    problems += _kernel_problems(stage, fields, run)
    return [f"{stage}: {p}" for p in problems]


def format_contract(result: HostileRun) -> list[str]:
    lines = []
    for name, fields in result.contract.items():
        lines.append(f"  contract {name}: " + " ".join(f"{k}={v}" for k, v in fields.items()))
    for name, kernel in result.contract_kernel.items():
        lines += [f"  contract {name} dom0 kernel: {k}" for k in kernel]
    return lines


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
    for mode, fields in result.backends.items():
        lines.append(
            f"  hostile backend {mode}: " + " ".join(f"{k}={v}" for k, v in fields.items())
        )
    lines += format_contract(result)
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
    parser.add_argument("--attack", action="append", choices=ALL_MODES, dest="attacks")
    parser.add_argument("--keep-logs", type=Path)
    parser.add_argument("--accel", default="auto")
    parser.add_argument("--attack-wait", type=int, default=ATTACK_WAIT)
    parser.add_argument("--arch", default=assets_mod.DEFAULT_ARCH, choices=assets_mod.ARCHES)
    args = parser.parse_args(argv)
    attacks = tuple(args.attacks or MODES)
    result = run(
        args.tree, attacks, accel=args.accel, keep_logs=args.keep_logs,
        attack_wait=args.attack_wait, arch=args.arch,
    )  # fmt: skip
    print(format_run(result))
    problems = judge(result, attacks)
    problems += [p for mode in result.backends for p in judge_backend(result, mode)]
    if not result.backends:
        problems.append(f"no hostile backend ran: {result.failure}")
    for problem in problems:
        print(f"PROBLEM {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
