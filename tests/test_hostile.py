"""A hostile frontend cannot hurt the generated backend, nor a hostile backend
the generated frontend, on real Xen + Linux in QEMU.

The tree under test is the default spec with calls that carry a 128KiB
buffer the backend writes (HOSTILE_BUFFER: segments in an indirect page).
In one boot a PV guest runs the tree's own frontend on a healthy device
(devid 0) and, in turn, six attacks from a test-only frontend module
(tests/hostile/hostile.c, built against the tree's ring header) on a second
device (devid 1) of the same backend in dom0: a ring-ref it never granted,
an event channel that is not allocated, a ring-page-order above the
backend's maximum, a producer index far past the ring, requests rewritten
while the backend reads them, an event storm.  For each, the backend must
cut the device off with a message (xenbus_dev_fatal: an error node and a
kernel line) and reach Closing or Closed; dom0 must log no Oops/WARN/BUG;
the healthy device must stay Connected and pass its self-test after the
attack (and during the long ones).  Two more modes in the same boot: a
frontend that asks for the device back after each cut-off must be cut off
again each time, and a well-behaved frontend that fills the whole ring per
event must not be cut off.  Then issue 17's eight attacks on a call's
buffer (harness.BUF_ATTACKS), judged the same way, except that a grant
which is not there (never given, read-only) is answered "unreachable", not
cut off.  Then the tree's frontend meets three hostile backends
(tests/hostile/hostile_back.c: an answer given twice, a length past the
buffer, a status the protocol lacks) and must refuse each.  A copy of the
default tree without the backend's producer-index check must fail.

The same boot then runs issue 15's stages (tests/hostile/contract.sh) on a
variant of the tree's backend whose handler sleeps 2 s per request, with a
second guest: a guest that is unplugged with a full ring in flight must not
stall another guest's device (each of its state changes within 2 s, dom0
clock, and no hung task), the self-test's calls return within their timeout
when the backend is unloaded under them and a call queueing for a slot of
the full ring gets -EBUSY at its timeout, and the self-test refuses
"4294967295 2" with -EINVAL, leaving nothing in flight.

Needs what the e2e tests need (qemu-system-x86, busybox-static, gcc-12,
Debian's package mirror on first use); under TCG the first boot takes 5-7
minutes (issue 15's stages add 60-90 s: guest B's creation about 20 s, the
stages 45-70 s, and a third CPU for B slows the rest a little), the second
about 2 minutes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PHASE_TIMINGS
from hostile import harness

from xbgen import checkpatch, kernels
from xbgen.e2e import report
from xbgen.generate import generate
from xbgen.spec import Spec, default_spec

NAME = "mydevice"
HOSTILE = Path(__file__).resolve().parent / "hostile"
#: The backend's producer-index check, as the default spec renders it.
OVERFLOW_CHECK = re.compile(
    r"\t\tif \(RING_REQUEST_PROD_OVERFLOW\(&conn->ring, rp\)\) \{\n.*?\n\t\t\}\n", re.S
)


#: The hostile boot's spec: the default one, its calls carrying a buffer the
#: backend writes (so a read-only grant is an attack), in an indirect page
#: (so a page of garbage segments is one too).
HOSTILE_BUFFER = {"max": "128KiB", "direction": "from_backend"}


def _buffered(on_resume: str = "fail") -> Spec:
    spec = default_spec(NAME).model_dump(mode="json", exclude_none=True)
    spec["ring"].update(buffer=HOSTILE_BUFFER, on_resume=on_resume)
    return Spec.model_validate(spec)


@pytest.fixture(scope="module")
def buffered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default spec with :data:`HOSTILE_BUFFER`: the tree the hostile boot attacks."""
    return generate(_buffered(), tmp_path_factory.mktemp("buffered") / "out").tree


@pytest.fixture(scope="module")
def reissue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """That spec with ``ring.on_resume = "reissue"`` (issue 16's stage)."""
    return generate(_buffered("reissue"), tmp_path_factory.mktemp("reissue") / "out").tree


def _timings(label: str, result: harness.HostileRun) -> None:
    PHASE_TIMINGS.append(
        f"{label}: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    )


@pytest.fixture(scope="module")
def hostile_run(
    buffered: Path, reissue: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[harness.HostileRun, str]:
    """One boot: the six attacks, reconnect and full-batches, the eight buffer
    attacks, the hostile backends, then issue 15's stages."""
    result = harness.run(
        buffered, harness.MODES, keep_logs=tmp_path_factory.mktemp("logs"), contract=True,
        reissue_tree=reissue,
    )  # fmt: skip
    summary = harness.format_run(result)
    print(summary)
    _timings(f"hostile frontend, {len(harness.MODES)} modes + issue 15's stages, 1 boot", result)
    return result, summary


@pytest.mark.e2e
@pytest.mark.slow
def test_backend_survives_a_hostile_frontend(hostile_run: tuple[harness.HostileRun, str]) -> None:
    result, summary = hostile_run
    assert result.ok, summary
    assert harness.judge(result, harness.ATTACKS) == [], summary
    for attack in (result.attacks[mode] for mode in harness.ATTACKS):
        if attack.mode == "rewrite":
            # Each request is copied once before it is looked at: nothing to
            # detect unless the rewritten req_prod went behind the responses.
            continue
        assert attack.cut and attack.closed and attack.seconds is not None, summary
        # Set-up mistakes are refused while connecting, at once.
        if attack.mode in ("ungranted-ref", "bad-evtchn", "order-too-big"):
            assert attack.seconds < 5, summary
    # lateeoi throttles the storm; the backend cuts it off after 16 spurious events.
    storm = result.attacks["event-storm"]
    assert storm.seconds is not None and storm.seconds < harness.STORM_SECONDS, summary


@pytest.mark.e2e
@pytest.mark.slow
def test_backend_survives_hostile_buffers(hostile_run: tuple[harness.HostileRun, str]) -> None:
    """Issue 17: a call whose buffer is wrong in one way.  A segment out of
    its page, a buffer above the maximum, too many segments, one ref twice,
    a page of garbage segments: cut off with a message.  A ref never granted
    and a read-only grant for bytes the backend writes: answered
    "unreachable" (with a warning) and the next valid call served.  Segments
    spoilt after the push: answered or cut off, never worse.  Each time dom0
    stays clean and the healthy device passes its self-test."""
    result, summary = hostile_run
    assert harness.judge(result, harness.BUF_ATTACKS) == [], summary
    for mode in harness.BUF_ATTACKS:
        attack = result.attacks[mode]
        if harness.EXPECTED[mode] is not None:
            assert attack.cut and attack.closed and attack.seconds is not None, summary
            assert attack.seconds < 5, summary
        if mode in harness.NO_CUT:
            assert not attack.cut, summary


@pytest.mark.e2e
@pytest.mark.slow
def test_persistent_grants_survive_hostile_buffers(tmp_path: Path) -> None:
    """The same eight buffer attacks and three hostile backends on the tree
    with transfer = "map" (one more boot, no other stage): the backend maps
    what the frontend names and keeps it, so the same checks must come
    before any mapping; a grant that cannot be mapped is answered
    "unreachable", as a failed copy is.  And a frontend that names a fresh
    page in every call is cut off once it passes what any frontend needs."""
    spec = _buffered().model_dump(mode="json", exclude_none=True)
    spec["ring"]["buffer"]["transfer"] = "map"
    tree = generate(Spec.model_validate(spec), tmp_path / "out").tree
    attacks = harness.BUF_ATTACKS + harness.MAP_ATTACKS
    result = harness.run(tree, attacks, keep_logs=tmp_path / "logs")
    summary = harness.format_run(result)
    print(summary)
    _timings(f"hostile frontend, transfer = map, {len(attacks)} modes, 1 boot", result)
    assert harness.judge(result, attacks) == [], summary
    # It took a page more than the backend keeps: every slot's whole buffer.
    many = result.attacks["buf-many-grants"]
    assert many.cut and many.seconds is not None, summary
    assert any("mapping grant reference" in m for m in result.attacks["buf-readonly"].messages)
    for mode in harness.BACK_MODES:
        assert harness.judge_backend(result, mode) == [], summary


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.matrix
def test_hostile_frontend_and_backend_on_arm64(buffered: Path, tmp_path: Path) -> None:
    """Issue 18: the attacks (ring, buffers) and the hostile backends under
    Xen on Arm, on the modules cross-built for arm64 (no contract stages:
    they save and restore a guest, which Xen on Arm cannot)."""
    result = harness.run(buffered, harness.MODES, keep_logs=tmp_path / "logs", arch="arm64")
    summary = harness.format_run(result)
    print(summary)
    _timings(f"hostile frontend on arm64, {len(harness.MODES)} modes, 1 boot", result)
    assert result.ok, summary
    assert harness.judge(result, harness.MODES) == [], summary
    assert set(result.backends) == set(harness.BACK_MODES), summary
    for mode in harness.BACK_MODES:
        assert harness.judge_backend(result, mode) == [], summary


@pytest.mark.e2e
@pytest.mark.slow
def test_frontend_refuses_a_hostile_backend(hostile_run: tuple[harness.HostileRun, str]) -> None:
    """Issue 17: the tree's frontend against a backend (tests/hostile/
    hostile_back.c) that answers a call with the answer of an earlier one,
    reports more bytes than the call's buffer holds, or a buf_status the
    protocol lacks: the frontend says which, fails the calls (no copy past
    the buffer: it refuses before copying), closes when unplugged; no
    kernel complains on either side."""
    result, summary = hostile_run
    assert set(result.backends) == set(harness.BACK_MODES), summary
    for mode in harness.BACK_MODES:
        assert harness.judge_backend(result, mode) == [], summary


@pytest.mark.e2e
@pytest.mark.slow
def test_reconnecting_after_a_cut_off_is_cut_off_again(
    hostile_run: tuple[harness.HostileRun, str],
) -> None:
    """The frontend writes Connected again after each cut-off: however often
    the backend takes the device back, each time it finds the bad req_prod
    and cuts it off again, and dom0 stays clean."""
    result, summary = hostile_run
    assert harness.judge(result, ("reconnect",)) == [], summary
    attack = result.attacks["reconnect"]
    # Each connect ends in a fatal error: the bad req_prod, or (once the
    # frontend has given up and ended its grants) a failed connect.
    overflow = harness.EXPECTED["reconnect"] or ""
    cut = [
        m for m in attack.messages if re.search(overflow, m) or m.endswith("connecting the backend")
    ]
    assert attack.connects >= 1 and len(cut) == attack.connects, summary


@pytest.mark.e2e
@pytest.mark.slow
def test_full_ring_batches_are_not_cut_off(hostile_run: tuple[harness.HostileRun, str]) -> None:
    """A frontend that fills the whole ring, notifies as the protocol says
    and waits for every response breaks no rule: the backend must keep it
    (it used to count each such event as spurious and cut it off after 17)."""
    result, summary = hostile_run
    assert harness.judge(result, ("full-batches",)) == [], summary
    attack = result.attacks["full-batches"]
    assert "32 of 32 full rings answered" in attack.guest, summary


@pytest.mark.e2e
@pytest.mark.slow
def test_a_sleeping_handler_stalls_no_other_guest(
    hostile_run: tuple[harness.HostileRun, str],
) -> None:
    """Guest A fills its whole ring on a backend whose handler sleeps 2 s per
    request and is unplugged; meanwhile guest B's device plugs, connects and
    unplugs, each state change within 2 s (dom0's clock): dom0's one xenwatch
    thread never waits for A's handlers.  No hung task, no kernel complaint,
    and A's calls end when it is unplugged."""
    result, summary = hostile_run
    assert harness.judge_contract(result, "stall") == [], summary
    assert harness.judge_contract(result, "end") == [], summary


@pytest.mark.e2e
@pytest.mark.slow
def test_calls_in_flight_at_a_save_end_as_on_resume_says(
    hostile_run: tuple[harness.HostileRun, str],
) -> None:
    """Guest A is saved with calls queued on a backend that sleeps 2 s a
    request, restored paused, re-plugged with `activate.sh --unpause`: with
    on_resume = "fail" exactly the calls in flight fail, with "reissue" they
    are sent again and answered; the guest froze, nothing timed out, one IRQ,
    the old domain gone, dom0 clean."""
    result, summary = hostile_run
    assert harness.judge_contract(result, "resume") == [], summary


@pytest.mark.e2e
@pytest.mark.slow
def test_calls_return_when_the_backend_is_unloaded(
    hostile_run: tuple[harness.HostileRun, str],
) -> None:
    """rmmod of the sleeping backend while a self-test has a full ring in
    flight: every call returns within its timeout (ETIMEDOUT: it may have
    run), rmmod waits only for the running handler, and a call that then
    queues for a slot of the full ring is released by its timeout (EBUSY)."""
    result, summary = hostile_run
    assert harness.judge_contract(result, "unload") == [], summary


@pytest.mark.e2e
@pytest.mark.slow
def test_selftest_refuses_wrapping_input(hostile_run: tuple[harness.HostileRun, str]) -> None:
    """ "4294967295 2" is refused with EINVAL and leaves nothing in flight:
    the disconnect and both rmmods after it complete."""
    result, summary = hostile_run
    assert harness.judge_contract(result, "wrap") == [], summary


@pytest.mark.e2e
@pytest.mark.slow
def test_backend_without_the_overflow_check_fails(generated: Path, tmp_path: Path) -> None:
    tree = tmp_path / NAME
    shutil.copytree(generated, tree)
    core = tree / "backend" / f"{NAME}back_core.c"
    weakened, count = OVERFLOW_CHECK.subn("", core.read_text())
    assert count == 1, "the backend's RING_REQUEST_PROD_OVERFLOW check was not found"
    core.write_text(weakened)
    result = harness.run(tree, ("prod-overflow",), attack_wait=30, keep_logs=tmp_path / "logs")
    summary = harness.format_run(result)
    print(summary)
    _timings("hostile frontend, planted bug, 1 boot", result)
    problems = harness.judge(result, ("prod-overflow",))
    assert "prod-overflow: the backend never cut the device off (no error node)" in problems, (
        summary
    )
    attack = result.attacks["prod-overflow"]
    # Instead it answers the garbage between rsp_prod and req_prod, for ever.
    assert not attack.cut and not attack.messages and attack.state == "4", summary
    assert "backend still Connected" in attack.guest, summary


@pytest.mark.kernel
@pytest.mark.slow
def test_hostile_module_builds_without_warnings(generated: Path, tmp_path: Path) -> None:
    kernel = kernels.fetch(harness.KERNEL_LINE)
    for ko in harness.build_hostile(generated, NAME, kernel, tmp_path):
        assert ko.is_file()


@pytest.mark.slow
def test_hostile_module_passes_checkpatch() -> None:
    diags = checkpatch.run([HOSTILE / "hostile.c", HOSTILE / "hostile_back.c"], HOSTILE)
    # The xenbus state names are the kernel's own (enum xenbus_state).
    problems = [d for d in diags if "CAMELCASE: Avoid CamelCase: <XenbusState" not in d.message]
    assert not problems, "\n".join(map(str, problems))


# --------------------------------------------------------------------------- no QEMU


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_hostile_init_scripts_pass_shellcheck() -> None:
    scripts = [str(HOSTILE / n) for n in ("dom0-init.sh", "guest-init.sh", "contract.sh")]
    proc = subprocess.run(
        ["shellcheck", "-s", "sh", "-x", "-P", "SCRIPTDIR", *scripts],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout


def test_overflow_check_pattern_matches_the_generated_backend(generated: Path) -> None:
    core = (generated / "backend" / f"{NAME}back_core.c").read_text()
    assert len(OVERFLOW_CHECK.findall(core)) == 1


CONSOLE = """\
XBGEN-STEP hostile/prod-overflow START 50.0
XBGEN-HOSTILE-MSG prod-overflow 5 req_prod 10737[   51.1] noise
XBGEN-HOSTILE-RESULT prod-overflow cut=yes closed=yes seconds=0.012 state=6 frontend=6 deactivate=0 unregistered=yes kernel=clean healthy=Connected
XBGEN-STEP hostile/prod-overflow PASS 52.0 cut=yes
XBGEN-HOSTILE-REPLAY 90.0
XBGEN-SELFTEST hostile/prod-overflow/after devid=0 depth=8 requests=1000 ok=1000 bad=0 timeouts=0 roundtrip_ns=900000 per_s=1000
XBGEN-HOSTILE-MSG prod-overflow 5 req_prod 1073741824 is 1073741824 past our responses
XBGEN-HOSTILE-ERROR prod-overflow 5 req_prod 1073741824 is 1073741824 past our responses
XBGEN-HOSTILE-GUEST prod-overflow prod-overflow: req_prod 1073741824;
XBGEN-HOSTILE-RESULT prod-overflow cut=yes closed=yes seconds=0.012 state=6 frontend=6 deactivate=0 unregistered=yes kernel=clean healthy=Connected
XBGEN-HOSTILE-SELFTEST-FAIL hostile/rewrite/after FAIL want requests=1000
XBGEN-HOSTILE-RESULT rewrite cut=no closed=no seconds=- state=4 frontend=4 deactivate=0 unregistered=yes kernel=bad healthy=Connected
XBGEN-HOSTILE-KERNEL rewrite [ 80.0] WARNING: CPU: 0 PID: 9 at x.c:1
"""


def test_attack_lines_are_read_from_the_replay() -> None:
    console = report.parse(CONSOLE)
    attacks = harness.parse_attacks(CONSOLE, console)
    overflow = attacks["prod-overflow"]
    assert overflow.messages == ["5 req_prod 1073741824 is 1073741824 past our responses"]
    assert overflow.cut and overflow.closed and overflow.seconds == 0.012
    assert overflow.after is not None and overflow.after.clean
    assert _problems(attacks, "prod-overflow") == []
    rewrite = attacks["rewrite"]
    assert rewrite.kernel_lines == ["[ 80.0] WARNING: CPU: 0 PID: 9 at x.c:1"]
    assert rewrite.selftest_failures == ["FAIL want requests=1000"]
    problems = _problems(attacks, "rewrite")
    assert any("dom0 kernel" in p for p in problems)
    assert any("healthy self-test" in p for p in problems)


BUFFERS = """\
XBGEN-HOSTILE-REPLAY 90.0
XBGEN-SELFTEST hostile/buf-readonly/after devid=0 depth=8 requests=10 ok=10 bad=0 timeouts=0 roundtrip_ns=1 per_s=1
XBGEN-HOSTILE-MSG buf-readonly grant copy to reference 22 failed: -3
XBGEN-HOSTILE-GUEST buf-readonly buf-readonly: reference 22 granted read-only;buf-readonly: bad call: answered, buf_status 1 buf_len 0;buf-readonly: then a valid call: answered, buf_status 0 buf_len 1024;
XBGEN-HOSTILE-RESULT buf-readonly cut=no closed=no seconds=- state=4 frontend=4 deactivate=0 unregistered=yes kernel=clean healthy=Connected
XBGEN-SELFTEST hostile/buf-rewrite/after devid=0 depth=8 requests=10 ok=10 bad=0 timeouts=0 roundtrip_ns=1 per_s=1
XBGEN-HOSTILE-MSG buf-rewrite 5 segment 0: 65535 bytes at 0 pass its page
XBGEN-HOSTILE-GUEST buf-rewrite buf-rewrite: 3 calls spoilt after the push, 2 answered ok, 0 unreachable, last -104;
XBGEN-HOSTILE-RESULT buf-rewrite cut=yes closed=yes seconds=0.5 state=6 frontend=6 deactivate=0 unregistered=yes kernel=clean healthy=Connected
"""


def test_buffer_attacks_are_judged() -> None:
    attacks = harness.parse_attacks(BUFFERS, report.parse(BUFFERS))
    assert _problems(attacks, "buf-readonly") == []
    assert _problems(attacks, "buf-rewrite") == []
    # The backend cut off a read-only grant: a frontend's ended grant looks the same.
    cut = BUFFERS.replace("buf-readonly cut=no closed=no", "buf-readonly cut=yes closed=yes")
    attacks = harness.parse_attacks(cut, report.parse(cut))
    assert _problems(attacks, "buf-readonly") == [
        "buf-readonly: the backend cut off a well-behaved frontend: "
        "['grant copy to reference 22 failed: -3']"
    ]
    # The backend took the read-only grant and never said so; the valid call after was refused.
    quiet = BUFFERS.replace("MSG buf-readonly grant copy", "MSG buf-readonly grant kopy").replace(
        "then a valid call: answered, buf_status 0", "then a valid call: answered, buf_status 1"
    )
    attacks = harness.parse_attacks(quiet, report.parse(quiet))
    problems = _problems(attacks, "buf-readonly")
    assert len(problems) == 2, problems
    assert "logged nothing like" in problems[0] and "no backend message like" in problems[1]
    # Cut off, but for something else than the buffer.
    other = BUFFERS.replace("5 segment 0: 65535 bytes at 0 pass its page", "5 req_prod 9 is 9 past")
    attacks = harness.parse_attacks(other, report.parse(other))
    assert any(
        "cut off, but with no backend message" in p for p in _problems(attacks, "buf-rewrite")
    )


BACKENDS = """\
XBGEN-HOSTILE-BACK twice rc=1 err=Input/output_error secs=0.05 requests=2 ok=1 bad=1 timeouts=0 roundtrip_ns=1 per_s=1 bytes=512 MBps=1 deactivate=0 gone=yes dom0=clean guest_kernel=clean said=mydevicefront device/mydevice/0: backend broke the ring protocol: response to no request, id 0x10001;
XBGEN-HOSTILE-BACK long-buf rc=1 err=Input/output_error secs=0.05 requests=2 ok=0 bad=2 timeouts=0 roundtrip_ns=0 per_s=0 bytes=0 MBps=0 deactivate=0 gone=yes dom0=clean guest_kernel=clean said=-
"""


def test_hostile_backends_are_judged() -> None:
    run = _contract_run("")
    run.backends = harness.parse_backends(BACKENDS)
    assert run.backends["twice"]["said"].endswith("id 0x10001;")
    assert harness.judge_backend(run, "twice") == []
    assert harness.judge_backend(run, "long-buf") == [
        f"back-long-buf: the frontend said nothing like /{harness.BACK_MODES['long-buf']}/: '-'"
    ]
    # A call that went through although its answer was forged.
    run.backends = harness.parse_backends(BACKENDS.replace("ok=1 bad=1", "ok=2 bad=0"))
    assert any("want at most 1 ok" in p for p in harness.judge_backend(run, "twice"))
    assert harness.judge_backend(run, "bad-status") == [
        "back-bad-status: no result (the run stopped before it: None)"
    ]


def test_an_attack_that_is_not_cut_off_is_a_problem() -> None:
    line = (
        "XBGEN-HOSTILE-RESULT event-storm cut=no closed=no seconds=- state=4 frontend=4 "
        "deactivate=0 unregistered=yes kernel=clean healthy=Connected\n"
        "XBGEN-SELFTEST hostile/event-storm/after devid=0 depth=8 requests=10 ok=10 bad=0 "
        "timeouts=0 roundtrip_ns=1 per_s=1\n"
    )
    attacks = harness.parse_attacks(line, report.parse(line))
    assert _problems(attacks, "event-storm") == [
        "event-storm: the backend never cut the device off (no error node)"
    ]


def _problems(attacks: dict[str, harness.Attack], mode: str) -> list[str]:
    run = harness.HostileRun(
        ok=True, failure=None, attacks=attacks, baseline=None, console=report.Console(),
        serial_log=Path("serial.log"), timings={},
    )  # fmt: skip
    return [p for p in harness.judge(run, (mode,)) if not p.startswith("baseline")]


# ------------------------------------------------------- issue 15's stages, no QEMU


def test_sleepy_user_file_wraps_the_users_handler(generated: Path) -> None:
    user = (generated / "backend" / f"{NAME}back_user.c").read_text()
    sleepy = harness.sleepy_user_c(user, NAME)
    # The user's handler, renamed and kept; a new one sleeps, then calls it.
    assert sleepy.count(f"{NAME}back_handle(") == 1
    assert "static void xbgen_user_handle(" in sleepy
    wrapper = sleepy[sleepy.index(f"void {NAME}back_handle(") :]
    assert wrapper.index("msleep(XBGEN_SLEEP_MS)") < wrapper.index(
        "xbgen_user_handle(bdev, req, rsp)"
    )
    assert "#define XBGEN_SLEEP_MS\t2000U" in sleepy and "#include <linux/delay.h>" in sleepy


STALLED = """\
XBGEN-HOSTILE-REPLAY 300.0
XBGEN-CONTRACT stall/a-selftest rc=1 err=Transport_endpoint_is_not_connected secs=3.10 requests=65 ok=1 bad=64 timeouts=0 roundtrip_ns=2000000000 per_s=0
XBGEN-CONTRACT stall selftest=100.00 handler=101.00 a_deactivate=101.50 a_front_closed=102.00 b_activate=102.00 b_initialising=224.90 b_activated=104.00 b_initwait=225.00 b_connected=226.00 b_deactivate=226.50 b_closing=226.60 b_closed=227.00 b_gone=227.10 b_removed=227.50 b_deactivated=228.00 b_deactivate_rc=0 a_deactivated=112.00 a_deactivate_rc=1 a_gone=225.00 handlers=64 hung=2 kernel=bad
XBGEN-CONTRACT-KERNEL contract/stall [  130.1] INFO: task xenwatch:41 blocked for more than 10 seconds.
XBGEN-CONTRACT unload/selftest rc=0 err=- secs=10.40 requests=64 ok=1 bad=0 timeouts=63 roundtrip_ns=2000000000 per_s=0
XBGEN-CONTRACT unload/queued rc=1 err=Device_or_resource_busy secs=10.02 requests=0 ok=0 bad=0 timeouts=0 roundtrip_ns=0 per_s=0
XBGEN-CONTRACT unload selftest=240.0 handler=241.0 unbind=241.0 unbound=241.2 unbind_rc=0 rmmod=241.3 rmmoded=243.1 rmmod_rc=0 deactivate_rc=0 gone=270.0 hung=0 kernel=clean
XBGEN-CONTRACT wrap/write rc=1 err=Invalid_argument secs=0.01 requests=0 ok=0 bad=0 timeouts=0 roundtrip_ns=0 per_s=0
XBGEN-CONTRACT wrap/front-rmmod
XBGEN-CONTRACT wrap deactivate=280.0 deactivate_rc=0 gone=282.0 back_rmmoded=283.0 back_rmmod_rc=0 hung=0 kernel=clean
XBGEN-CONTRACT end hung=2 kernel=bad
"""


def _contract_run(text: str) -> harness.HostileRun:
    stages, kernel = harness.parse_contract(text)
    return harness.HostileRun(
        ok=True, failure=None, attacks={}, baseline=None, console=report.Console(),
        serial_log=Path("serial.log"), timings={}, contract=stages, contract_kernel=kernel,
    )  # fmt: skip


def test_a_stalled_second_guest_is_reported_with_what_was_waited_for() -> None:
    run = _contract_run(STALLED)
    problems = harness.judge_contract(run, "stall")
    assert (
        "stall: guest B's backend from Initialising (activate.sh's last write) to InitWait: "
        "121.00 s, want <= 2 s" in problems
    )
    assert any("deactivate.sh for guest A exited 1" in p for p in problems)
    assert any("hung task" in p and "xenwatch:41" in p for p in problems)
    # A's write ended with ENOTCONN (documented) within its bound: not a problem.
    assert not any("guest A's self-test" in p for p in problems)
    assert harness.judge_contract(run, "unload") == []
    assert harness.judge_contract(run, "wrap") == []


def test_contract_errors_and_bounds_are_judged() -> None:
    text = (
        STALLED.replace("err=Device_or_resource_busy secs=10.02", "err=- secs=10.02")
        .replace("unload/queued rc=1", "unload/queued rc=0")
        .replace("err=Invalid_argument", "err=-")
        .replace("wrap/write rc=1", "wrap/write rc=0")
        .replace("secs=10.40", "secs=640.00")
    )
    run = _contract_run(text)
    unload = harness.judge_contract(run, "unload")
    assert any("want EBUSY" in p and "got success" in p for p in unload)
    assert any("returned after 640.0 s, want <= 20.0 s" in p for p in unload)
    wrap = harness.judge_contract(run, "wrap")
    assert wrap == [
        "wrap: writing '4294967295 2' to the self-test must fail with EINVAL, got success: "
        "{'rc': '0', 'err': '-', 'secs': '0.01', 'requests': '0', 'ok': '0', 'bad': '0', "
        "'timeouts': '0', 'roundtrip_ns': '0', 'per_s': '0'}"
    ]
    # A buffer tree's figures (bytes=, MBps=) are no outcomes; a lost call is.
    counted = STALLED.replace(
        "unload/selftest rc=0 err=- secs=10.40 requests=64 ok=1 bad=0 timeouts=63",
        "unload/selftest rc=0 err=- secs=10.40 requests=64 ok=1 bad=0 timeouts=62",
    ).replace("timeouts=62 roundtrip_ns=2000000000 per_s=0", "timeouts=62 roundtrip_ns=2 per_s=0 "
              "bytes=4609 MBps=1")  # fmt: skip
    unload = harness.judge_contract(_contract_run(counted), "unload")
    assert any("64 requests sent but 63 outcomes counted" in p for p in unload), unload
    missing = harness.judge_contract(_contract_run(""), "stall")
    assert missing == ["stall: no XBGEN-CONTRACT line (the run stopped before it: None)"]
