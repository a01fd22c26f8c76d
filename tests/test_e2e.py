"""End to end on real Xen + Linux under QEMU: the generated pair must connect, and
planted faults must make the run FAIL at the step that broke.

Needs qemu-system-x86, busybox-static, gcc-12/make and Debian's package mirror
(about 90 MB on first run, cached afterwards). Each boot takes 1-2 minutes under TCG.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import PHASE_TIMINGS, passing_steps

from xbgen.e2e import E2EFailed, E2EResult, Scenario, images, report, run
from xbgen.e2e import assets as assets_mod
from xbgen.e2e.driver import Driver, Ring, detect_ring, script_setting
from xbgen.e2e.initramfs import Initramfs, find_busybox, overlay
from xbgen.e2e.qemu import choose_accel
from xbgen.e2e.scenario import CHECK_REQUESTS, RING_CYCLES
from xbgen.errors import E2EError
from xbgen.generate import generate
from xbgen.spec import STARTER_RING, Spec, default_spec

e2e = pytest.mark.e2e
slow = pytest.mark.slow
INIT = Path(__file__).resolve().parent.parent / "xbgen" / "e2e" / "init"
#: The C files xbgen 0.1.0 emitted for the default spec (before rebind support).
FIXTURE_010 = Path(__file__).resolve().parent / "fixtures" / "mydevice-0.1.0"

NAME = "mydevice"
#: Short waits for the planted-fault runs: a healthy handshake takes < 1 s here.
FAULT_TIMEOUT = 12
#: What stage 3 does to the guest's Connected device, in order.
STAGE3_STEPS = (
    "frontend-rebind", "backend-rebind", "second-device", "deactivate-second",
    "frontend-reload", "destroy", "cleanup", "rmmod",
)  # fmt: skip


#: Steps a ring tree adds after stage 2, in order (the default depths: 1 and 32).
RING_STEPS = ("ring/selftest-1", "ring/selftest-32", "ring/cycles", "ring/counters")
#: Self-tests after stage 3's reconnections.
RING_RECHECKS = (
    "ring/selftest-after-frontend-rebind", "ring/selftest-after-backend-rebind",
    "ring/selftest-second-device", "ring/selftest-after-frontend-reload",
)  # fmt: skip
#: Stage 3's lifecycle steps on bookworm (its Xen cannot migrate a PV guest),
#: for a ring tree with a self-test; a handshake-only tree has no self-tests.
LIFECYCLE_STEPS = (
    "save-restore-1", "selftest-after-restore-1", "save-restore-2", "selftest-after-restore-2",
    "save-inflight", "selftest-after-inflight", "reboot", "selftest-after-reboot", "shutdown",
    "checkpoint", "selftest-after-checkpoint",
)  # fmt: skip
#: Counters that keep running totals; every other counter must come back.
RUNNING_TOTALS = ("gnt_deferred", "gnt_freed")
#: The default run's self-tests in CI: the full count (the CLI's default is 10,000).
FULL_REQUESTS = 100_000
#: The quickest scenario that reaches the ring steps: no stage 1, no stage 3.
RING_ONLY = Scenario(orders=(), stage3=False, ring_cycles=0, handshake_timeout=FAULT_TIMEOUT)


# --------------------------------------------------------------------- trees


@pytest.fixture(scope="module")
def handshake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The handshake-only tree: the default spec without [ring]."""
    return generate(default_spec(NAME, ring=False), tmp_path_factory.mktemp("hs")).tree


def planted(base: Path, tmp_path: Path, rel: str, edit: Callable[[str], str]) -> Path:
    """A copy of tree ``base`` with one file edited; the edit must change it."""
    tree = tmp_path / NAME
    shutil.copytree(base, tree)
    path = tree / rel
    before = path.read_text()
    after = edit(before)
    assert after != before, f"planting the fault changed nothing in {rel}"
    path.write_text(after)
    return tree


def failing_run(tree: Path, logs: Path, scenario: Scenario) -> E2EResult:
    with pytest.raises(E2EFailed) as failed:
        run(tree, scenario, keep_logs=logs)
    result = failed.value.result
    assert not result.ok, result.summary()
    assert result.failure
    assert result.serial_log.is_file()
    return result


def assert_handshakes(result: E2EResult) -> None:
    """Stages 1-3 as every tree runs them."""
    steps = result.console.steps
    for order in ("backend-first", "frontend-first", "activate-first"):
        assert f"stage1/cycle1/{order}/connect" in steps
    for name in ("connect", "guest-cannot-write-backend"):
        assert steps[f"stage2/{name}"].status == "PASS"
    assert [name for name in steps if name.startswith("stage3/")] == [
        f"stage3/{name}" for name in STAGE3_STEPS
    ]
    sides = {(c.side, c.name) for c in result.console.timeline}
    assert {("frontend", "Connected"), ("backend", "Connected")} <= sides
    assert result.timings["handshake_max"] < 10
    assert any(line.startswith("XBGEN-GUEST connected PASS") for line in result.console.guest_lines)


def assert_clean_selftest(test: report.SelfTest, requests: int, depth: int) -> None:
    assert (test.requests, test.ok, test.bad, test.timeouts) == (requests, requests, 0, 0), test
    assert test.depth == depth
    assert test.roundtrip_ns > 0 and test.per_s > 0


@e2e
@slow
def test_default_spec_connects_dom0_and_guest(generated: Path, logs: Path) -> None:
    """The ring tree `xbgen new` writes: handshakes, data path, cycles, rebinds;
    the self-tests run the full 100,000 requests (1 and 32 in flight)."""
    result = run(generated, Scenario(requests=FULL_REQUESTS), keep_logs=logs)
    steps = passing_steps(result)
    PHASE_TIMINGS.append(
        "e2e default spec: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    )
    assert_handshakes(result)
    names = list(steps)
    ring = [n for n in names if n.startswith("ring/")]
    assert ring[: len(RING_STEPS)] == list(RING_STEPS)
    assert names.index("ring/counters") < names.index("stage3/frontend-rebind")
    assert [n for n in ring if n not in RING_STEPS] == list(RING_RECHECKS)
    # Each recheck runs right after the step it checks.
    for recheck, before in zip(
        RING_RECHECKS,
        ("frontend-rebind", "backend-rebind", "second-device", "frontend-reload"),
        strict=True,
    ):
        assert names[names.index(recheck) - 1] == f"stage3/{before}"
    tests = result.console.selftests
    for depth in (1, 32):
        assert_clean_selftest(tests[f"ring/selftest-{depth}"], FULL_REQUESTS, depth)
    requests, depth = CHECK_REQUESTS
    for recheck in RING_RECHECKS:
        assert_clean_selftest(tests[recheck], requests, depth)
    assert tests["ring/selftest-second-device"].devid == 1
    # What a Xen admin does, each followed by the README's re-plug, between
    # the frontend reload and the destroy.
    life = [n for n in names if n.startswith("lifecycle/")]
    assert life == [f"lifecycle/{n}" for n in LIFECYCLE_STEPS]
    assert names.index("stage3/frontend-reload") < names.index(life[0])
    assert names.index(life[-1]) < names.index("stage3/destroy")
    for name in life:
        if "selftest" in name:
            assert_clean_selftest(tests[name], requests, depth)
    assert "calls in flight at the save" in steps["lifecycle/save-inflight"].detail
    cycles = [t for name, t in tests.items() if name.startswith("ring/cycle-")]
    assert len(cycles) == RING_CYCLES
    for test in cycles:
        assert_clean_selftest(test, requests, depth)
    # Many requests in flight beat one at a time.
    assert tests["ring/selftest-32"].per_s > tests["ring/selftest-1"].per_s
    before, after = result.console.counters["before"], result.console.counters["after"]
    assert before.keys() == after.keys()
    assert {k.split(".")[0] for k in before} == {"d0", "guest", "xen"}
    kept = {k: v for k, v in after.items() if not k.endswith(RUNNING_TOTALS)}
    assert kept == {k: before[k] for k in kept}
    # The device's own IRQ and ring mapping are counted, one of each.
    assert before["d0.irq_dev"] == before["guest.irq_dev"] == before["d0.ring_maps"] == 1
    # Every close ends the ring's grant while the backend may still map it:
    # deferred frees are fine, as long as each one was freed.
    for side in ("d0", "guest"):
        assert after[f"{side}.gnt_deferred"] == after[f"{side}.gnt_freed"]
        assert after[f"{side}.gnt_leaked"] == 0
    summary = result.summary()
    assert "ring self-test:" in summary and "counters:" in summary
    assert "ring/selftest-32" in summary and "requests/s" in summary
    PHASE_TIMINGS.append(
        "e2e ring self-test, 100000 requests: "
        + ", ".join(
            f"{tests[f'ring/selftest-{d}'].depth} in flight {tests[f'ring/selftest-{d}'].per_s}/s "
            f"({tests[f'ring/selftest-{d}'].roundtrip_ns / 1000:.0f} us round trip)"
            for d in (1, 32)
        )
    )


@e2e
@slow
def test_handshake_only_tree_connects(handshake: Path, logs: Path) -> None:
    """A tree without [ring] runs stages 1-3 and nothing of the data path."""
    result = run(handshake, keep_logs=logs)
    steps = passing_steps(result)
    assert_handshakes(result)
    assert not [n for n in steps if n.startswith("ring/")]
    assert result.console.selftests == {} and result.console.counters == {}
    assert [n for n in steps if n.startswith("lifecycle/")] == [
        f"lifecycle/{n}" for n in LIFECYCLE_STEPS if "selftest" not in n and "inflight" not in n
    ]


@e2e
@slow
def test_corrupting_backend_handler_fails_the_selftest(
    generated: Path, tmp_path: Path, logs: Path
) -> None:
    """A backend handler that answers one field wrong: bad > 0, the step fails."""
    tree = planted(
        generated, tmp_path, f"backend/{NAME}back_user.c",
        lambda c: c.replace("rsp->value = req->value;", "rsp->value = req->value ^ 1;"),
    )  # fmt: skip
    result = failing_run(tree, logs, replace(RING_ONLY, requests=500))
    failed = result.console.failed_step
    assert failed is not None and failed.name == "ring/selftest-1", result.summary()
    test = result.console.selftests["ring/selftest-1"]
    assert test.requests == 500 and test.bad > 0 and test.ok < test.requests
    assert "bad=" in failed.detail
    assert "bad 500" in result.summary()


@e2e
@slow
def test_frontend_that_never_connects_fails_the_connect_step(
    generated: Path, tmp_path: Path, logs: Path
) -> None:
    tree = planted(
        generated, tmp_path, f"frontend/{NAME}front_core.c",
        lambda c: c.replace("xenbus_switch_state(dev, XenbusStateConnected);", ";"),
    )  # fmt: skip
    result = failing_run(tree, logs, Scenario(guest=False, handshake_timeout=FAULT_TIMEOUT))
    failed = result.console.failed_step
    assert failed is not None and failed.name == "stage1/cycle1/backend-first/connect"
    assert "not Connected" in (result.failure or "")
    assert any("FAIL" in line for line in result.last_lines)


@e2e
@slow
def test_activate_without_chmod_fails_stage2(generated: Path, tmp_path: Path, logs: Path) -> None:
    tree = planted(
        generated, tmp_path, "activate.sh",
        lambda s: re.sub(r"^xenstore-chmod .*\n", "", s, flags=re.M),
    )  # fmt: skip
    result = failing_run(tree, logs, Scenario(handshake_timeout=FAULT_TIMEOUT))
    failed = result.console.failed_step
    assert failed is not None and failed.name.startswith("stage2/"), result.summary()
    # dom0 is privileged: without the chmod, stage 1 still passes.
    stage1 = [s for s in result.console.steps.values() if s.name.startswith("stage1/")]
    assert stage1 and all(s.status == "PASS" for s in stage1)


@e2e
@slow
def test_guest_writable_backend_fails_the_permission_step(
    generated: Path, tmp_path: Path, logs: Path
) -> None:
    tree = planted(
        generated, tmp_path, "activate.sh",
        lambda s: s.replace('xenstore-chmod "$be" "n$backend_domid" "r$domu"',
                            'xenstore-chmod "$be" "n$backend_domid" "b$domu"'),
    )  # fmt: skip
    result = failing_run(tree, logs, Scenario(handshake_timeout=FAULT_TIMEOUT))
    failed = result.console.failed_step
    assert failed is not None and failed.name == "stage2/guest-cannot-write-backend"


@e2e
@slow
def test_module_that_warns_on_remove_fails(generated: Path, tmp_path: Path, logs: Path) -> None:
    tree = planted(
        generated, tmp_path, f"backend/{NAME}back_core.c",
        lambda c: c.replace(f"\t{NAME}back_teardown(dev);\n", f"\tWARN_ON(1);\n\t{NAME}back_teardown(dev);\n"),
    )  # fmt: skip
    result = failing_run(tree, logs, Scenario(guest=False, handshake_timeout=FAULT_TIMEOUT))
    failed = result.console.failed_step
    assert failed is not None and failed.name.startswith("stage1/cycle1/backend-first/")
    assert "WARNING" in (result.failure or "")
    assert result.console.kernel_problems


@e2e
@slow
@pytest.mark.parametrize(
    ("rel", "step"),
    [(f"frontend/{NAME}front.c", "stage3/frontend-rebind"),
     (f"backend/{NAME}back.c", "stage3/backend-rebind")],
)  # fmt: skip
def test_010_driver_fails_the_rebind_step(
    rel: str, step: str, handshake: Path, tmp_path: Path, logs: Path
) -> None:
    """xbgen 0.1.0's frontend leaves both ends Closed after a rebind, its backend a dead device."""
    tree = planted(handshake, tmp_path, rel, lambda _: (FIXTURE_010 / rel).read_text())
    result = failing_run(tree, logs, Scenario(handshake_timeout=FAULT_TIMEOUT))
    failed = result.console.failed_step
    assert failed is not None and failed.name == step, result.summary()
    assert "not Connected" in failed.detail or "frontend state" in failed.detail
    earlier = [
        s for s in result.console.steps.values() if s.name.startswith(("stage1/", "stage2/"))
    ]
    assert earlier and all(s.status == "PASS" for s in earlier)


@e2e
@slow
@pytest.mark.matrix
def test_resume_that_keeps_the_old_irq_fails_the_save_step(
    generated: Path, tmp_path: Path, logs: Path
) -> None:
    """A `.resume` that frees the old ring but forgets to unbind its IRQ: the
    next connect binds a second one, and lifecycle/save-restore-1 counts two
    IRQs for one device.  (In the full proof, tests/e2e-matrix.sh: a boot.)"""
    text = f"""inflight, "failed");\n\t{NAME}front_release(info);\n"""
    tree = planted(
        generated, tmp_path, f"frontend/{NAME}front_core.c",
        lambda c: c.replace(
            text, f"""inflight, "failed");\n\t{NAME}front_free_ring(info);\n\tinfo->connected = false;\n"""
        ),
    )  # fmt: skip
    scenario = Scenario(orders=(), ring_cycles=0, requests=1000, lifecycle_saves=1)
    result = failing_run(tree, logs, scenario)
    failed = result.console.failed_step
    assert failed is not None and failed.name == "lifecycle/save-restore-1", result.summary()
    assert "has 2 IRQs for the device, want 1" in failed.detail


@e2e
@slow
@pytest.mark.matrix
def test_largest_buffers_by_indirect_pages_on_xen(tmp_path: Path, logs: Path) -> None:
    """A 4MiB buffer to the backend: 1024 segments in two indirect pages,
    sent again after a save (reissue), through the self-tests, the ring
    cycles and a save with calls in flight.  (The full proof:
    tests/e2e-matrix.sh.)"""
    ring = {
        **STARTER_RING,
        "on_resume": "reissue",
        "response": {**STARTER_RING["response"], "sum": "u32"},
        "buffer": {"max": "4MiB", "direction": "to_backend"},
    }
    tree = generate(Spec.model_validate({"name": NAME, "ring": ring}), tmp_path / "out").tree
    scenario = Scenario(orders=(), requests=1000, ring_cycles=3, lifecycle_saves=1)
    result = run(tree, scenario, keep_logs=logs)
    for size, calls in ((4096, 10_000), (65536, 10_000), (4 << 20, 256)):
        test = result.console.selftests[f"ring/buffer-{size}"]
        assert (test.requests, test.ok, test.bad) == (calls, calls, 0), test
        assert test.bytes == size * calls, test
    PHASE_TIMINGS.append(f"e2e 4MiB buffers: qemu {result.timings['qemu']:.0f}s")


@e2e
@slow
def test_failure_raises_for_the_cli(handshake: Path, tmp_path: Path, logs: Path) -> None:
    tree = planted(
        handshake, tmp_path, f"frontend/{NAME}front.c",
        lambda c: c.replace("xenbus_switch_state(dev, XenbusStateConnected);", ";"),
    )  # fmt: skip
    with pytest.raises(E2EFailed) as info:
        run(tree, Scenario(guest=False, handshake_timeout=5), keep_logs=logs)
    assert info.value.exit_code != 0
    assert "connect" in str(info.value)


# --------------------------------------------------------------------------- no QEMU


def test_initramfs_is_a_newc_archive_busybox_can_read(tmp_path: Path) -> None:
    ramfs = Initramfs()
    ramfs.add_bytes("/xbgen/config", b"DEV=x\n", 0o600)
    ramfs.symlink("/sbin", "bin")
    ramfs.add_bytes("/odd", b"abc", 0o755)  # lengths not a multiple of 4
    archive = tmp_path / "a.cpio.gz"
    ramfs.write(archive)
    busybox = str(find_busybox())
    listing = subprocess.run(
        f"{busybox} zcat {archive} | {busybox} cpio -tv",
        shell=True, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "xbgen/config" in listing and "sbin -> bin" in listing
    assert "-rwxr-xr-x" in listing and "-rw-------" in listing
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(
        f"{busybox} zcat {archive} | {busybox} cpio -id", shell=True, cwd=out, check=True,
        capture_output=True,
    )  # fmt: skip
    assert (out / "odd").read_bytes() == b"abc"
    assert (out / "xbgen" / "config").read_text() == "DEV=x\n"


def test_overlay_replaces_and_adds_files_in_one_gzip_stream(tmp_path: Path) -> None:
    base = Initramfs()
    base.add_bytes("/init", b"old", 0o755)
    base.add_bytes("/keep", b"k")
    first = base.write(tmp_path / "base.cpio.gz")
    both = overlay(first, tmp_path / "both.cpio.gz", {
        "/init": (b"new", 0o755), "/lib/modules/x.ko": (b"ko", 0o644),
    })  # fmt: skip
    # One gzip member (libxenguest sizes a ramdisk from its trailer).
    one = zlib.decompressobj(wbits=31)
    data = one.decompress(both.read_bytes())
    assert one.eof and one.unused_data == b"" and data.count(b"TRAILER!!!") == 2
    # As Linux unpacks it: every archive in turn, later members winning.
    files: dict[str, bytes] = {}
    at = 0
    while at < len(data):
        head = data[at : at + 110]
        assert head[:6] == b"070701", head
        mode, size, namesize = (int(head[i : i + 8], 16) for i in (14, 54, 94))
        name = data[at + 110 : at + 110 + namesize - 1].decode()
        start = at + 110 + namesize + (-(110 + namesize) % 4)
        if mode & 0o100000:
            files[name] = data[start : start + size]
        at = start + size + (-size % 4)
    assert files == {"init": b"new", "keep": b"k", "lib/modules/x.ko": b"ko"}


def test_a_root_unpacked_in_an_older_layout_is_unpacked_again(tmp_path: Path) -> None:
    """The block modules the buffer benchmark needs came with layout 2: a root
    unpacked before (no layout in its stamp) must not be reused."""
    assert not assets_mod._current(tmp_path)  # nothing there
    (tmp_path / assets_mod.STAMP).write_text(json.dumps({"release": "bookworm"}))
    assert not assets_mod._current(tmp_path)
    (tmp_path / assets_mod.STAMP).write_text(json.dumps({"layout": assets_mod.LAYOUT}))
    assert assets_mod._current(tmp_path)


CONSOLE = """\
(XEN) WARNING: this Xen line never fails a run
XBGEN-BOOT 2.50
XBGEN-STEP stage1/cycle1/backend-first/connect START 4.00
XBGEN-STATE 4.10 frontend device/mydevice/0 1
XBGEN-STATE 4.20 backend backend/mydevice/0/0 4[    4.21] mydeviceback: interleaved
XBGEN-STATE 4.25 backend backend/mydevice/0/0 4
XBGEN-TIME handshake stage1/cycle1/backend-first 0.30
XBGEN-STEP stage1/cycle1/backend-first/connect PASS 4.30
XBGEN-STEP stage1/cycle1/backend-first/deactivate START 4.40
"""


def test_report_parses_markers_and_names_the_failed_step() -> None:
    console = report.parse(
        CONSOLE + "XBGEN-STEP stage1/cycle1/backend-first/deactivate FAIL 5.0 no\n"
    )
    assert console.boot_uptime == 2.5
    assert [(c.side, c.name) for c in console.timeline] == [
        ("frontend", "Initialising"),
        ("backend", "Connected"),
    ]
    assert console.handshakes == {"stage1/cycle1/backend-first": 0.3}
    assert console.kernel_problems == []
    why = report.verdict(console, timed_out=False, exit_pass=False)
    assert why == "step stage1/cycle1/backend-first/deactivate FAILED: no"


def test_report_fails_on_kernel_warning_and_on_a_hang() -> None:
    warned = report.parse(
        CONSOLE + "[    5.1] WARNING: CPU: 0 PID: 1 at x.c:1\nXBGEN-RESULT PASS 6\n"
    )
    why = report.verdict(warned, timed_out=False, exit_pass=True)
    assert why is not None and "WARNING" in why and "deactivate" in why
    guest = report.parse(CONSOLE + "[guest] [ 1.0] BUG: kernel NULL pointer dereference\n")
    assert guest.kernel_problems == ["guest: [ 1.0] BUG: kernel NULL pointer dereference"]
    hung = report.parse(CONSOLE)
    why = report.verdict(hung, timed_out=True, exit_pass=False)
    assert why == "step stage1/cycle1/backend-first/deactivate never finished: QEMU timed out"


def test_report_needs_pass_marker_and_exit_status() -> None:
    done = CONSOLE + "XBGEN-STEP stage1/cycle1/backend-first/deactivate PASS 5.0\n"
    assert report.verdict(report.parse(done), timed_out=False, exit_pass=False) is not None
    passed = report.parse(done + "XBGEN-RESULT PASS 6.0\n")
    assert report.verdict(passed, timed_out=False, exit_pass=False) is not None
    assert report.verdict(passed, timed_out=False, exit_pass=True) is None


def test_generated_script_settings(generated: Path) -> None:
    assert script_setting(generated / "activate.sh", "type") == NAME
    assert script_setting(generated / "activate.sh", "devid") == "0"


def test_accel_auto_is_tcg_without_vmx_or_svm() -> None:
    flags = Path("/proc/cpuinfo").read_text()
    if re.search(r"^flags\s*:.*\b(vmx|svm)\b", flags, re.M):
        pytest.skip("this CPU has hardware virtualization")
    assert choose_accel("auto") == "tcg"
    with pytest.raises(E2EError):
        choose_accel("kvm")


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_init_scripts_pass_shellcheck() -> None:
    """The e2e's init library and the buffer benchmark's inits, which source it."""
    vsblk = Path(__file__).resolve().parent.parent / "benchmarks" / "vsblk"
    scripts = sorted(str(path) for path in [*INIT.glob("*.sh"), *vsblk.glob("*.sh")])
    scripts.append(str(vsblk / "blk-hotplug"))
    proc = subprocess.run(
        ["shellcheck", "-s", "sh", "-x", "-P", "SCRIPTDIR", *scripts],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout


def test_every_part_an_init_sources_is_packed() -> None:
    """The e2e, hostile and benchmark inits source the library from /xbgen:
    each part is in both images, and no init keeps a function the library has."""
    here = Path(__file__).resolve().parent
    inits = [INIT / name for name in images.INITS] + sorted(
        [*(here / "hostile").glob("*.sh"), *(here.parent / "benchmarks" / "vsblk").glob("*.sh")]
    )
    parts = images.library_parts()
    defined = {p: set(re.findall(r"^(\w+)\(\) \{", (INIT / p).read_text(), re.M)) for p in parts}
    for script in [*inits, *(INIT / p for p in parts)]:
        text = script.read_text()
        for name in re.findall(r"^\s*\. /xbgen/(\S+\.sh)$", text, re.M):
            assert name in parts, f"{script.name} sources {name}, which no image carries"
    library = set().union(*defined.values())
    for script in inits:
        own = set(re.findall(r"^(\w+)\(\) \{", script.read_text(), re.M))
        assert not own & library, f"{script.name} defines {own & library} again"
    assert sum(len(names) for names in defined.values()) == len(library), "a part repeats another"


# --------------------------------------------------------------------- the ring


def ring_spec(**ring: object) -> Spec:
    return Spec.model_validate({"name": NAME, "ring": {**STARTER_RING, **ring}})


def test_detect_ring_reads_the_tree(generated: Path, handshake: Path, tmp_path: Path) -> None:
    ring = detect_ring(generated, NAME)
    assert ring is not None and ring.selftest
    assert ring.slots == default_spec(NAME).ring.slots == 64  # type: ignore[union-attr]
    assert detect_ring(handshake, NAME) is None
    quiet = generate(ring_spec(selftest=False), tmp_path / "quiet").tree
    assert detect_ring(quiet, NAME) == Ring(quiet / "include" / f"{NAME}_ring.h", 64, False)
    for pages, request in ((4, {"blob": "u8[200]"}), (1, {"blob": "u8[200]"})):
        spec = ring_spec(pages=pages, request=request)
        tree = generate(spec, tmp_path / f"p{pages}").tree
        found = detect_ring(tree, NAME)
        assert found is not None and found.slots == spec.ring.slots  # type: ignore[union-attr]


def test_detect_ring_refuses_a_header_that_contradicts_itself(
    generated: Path, tmp_path: Path
) -> None:
    tree = tmp_path / NAME
    shutil.copytree(generated, tree)
    header = tree / "include" / f"{NAME}_ring.h"
    header.write_text(header.read_text().replace("largest size: 64.", "largest size: 32."))
    with pytest.raises(E2EError, match="says 32 slots"):
        detect_ring(tree, NAME)


def fake_driver(ring: Ring | None) -> Driver:
    ko = Path("/nonexistent")
    return Driver(NAME, "0", ko / "f.ko", ko / "b.ko", ko, ko, 0.0, ring)


def test_config_tells_the_scripts_about_the_ring(tmp_path: Path) -> None:
    small = Ring(tmp_path / "r.h", 16, True)
    text = images.config_text(fake_driver(small), Scenario(requests=77))
    assert "RING=1\n" in text and "SELFTEST=1\n" in text and "RING_SLOTS=16\n" in text
    # Depths above the ring's size are capped at it.
    assert "DEPTHS='1 16'\n" in text and "REQUESTS=77\n" in text and "CHECK_DEPTH=8\n" in text
    full = Scenario(depths=(1, 32, 64, 64))
    assert full.depths_for(Ring(tmp_path / "r.h", 64, True)) == (1, 32, 64)
    plain = images.config_text(fake_driver(None), Scenario())
    assert "RING=0\n" in plain and "SELFTEST=0\n" in plain and "DEPTHS=''\n" in plain
    assert "PINGS=0\n" in plain and not Scenario().vif
    assert Scenario(pings=5).vif


RING_CONSOLE = """\
XBGEN-STEP ring/selftest-1 START 50.0
XBGEN-SELFTEST ring/selftest-1 devid=0 depth=1 requests=100 ok=100 bad=0 timeouts=0 roundtrip_ns=370000 per_s=2700
XBGEN-STEP ring/selftest-1 PASS 51.0 requests=100 ok=100 bad=0 timeouts=0 roundtrip_ns=370000 per_s=2700
XBGEN-SELFTEST ring/cycle-1 devid=0 depth=8 requests=10 ok=10 bad=0 timeouts=0 roundtrip_ns=500000 per_s=9000
XBGEN-SELFTEST ring/cycle-2 devid=0 depth=8 requests=10 ok=9 bad=1 timeouts=0 roundtrip_ns=700000 per_s=8000
XBGEN-COUNTERS before d0.irq_xen=18 guest.irq_dev=1 xen.evtchn_guest=8
XBGEN-COUNTERS after d0.irq_xen=18 guest.irq_dev=1 xen.evtchn_guest=9
XBGEN-PING count=200 min_us=2112 avg_us=9147 max_us=31154
"""


def test_report_parses_selftests_and_counters() -> None:
    console = report.parse(RING_CONSOLE)
    test = console.selftests["ring/selftest-1"]
    assert test == report.SelfTest("ring/selftest-1", 0, 1, 100, 100, 0, 0, 370000, 2700)
    assert test.clean and not console.selftests["ring/cycle-2"].clean
    assert console.counters == {
        "before": {"d0.irq_xen": 18, "guest.irq_dev": 1, "xen.evtchn_guest": 8},
        "after": {"d0.irq_xen": 18, "guest.irq_dev": 1, "xen.evtchn_guest": 9},
    }
    lines = report.format_selftests(console)
    assert "2700 requests/s" in lines[0] and "round trip 370.0 us" in lines[0]
    assert lines[1].split()[0] == "ring/cycle-1..2" and "19/20 ok, bad 1" in lines[1]
    table = report.format_counters(console)
    assert table[0].split() == ["counter", "before", "after"]
    assert table[-1].split() == ["xen.evtchn_guest", "8", "9"]
    assert console.ping == report.Ping(200, 2112, 9147, 31154)
    # PASS details show in the steps too.
    assert "per_s=2700" in report.format_steps(console)[0]


def test_report_fails_on_leaked_grants_but_not_on_deferred_frees() -> None:
    deferred = (
        "[guest] [ 31.1] xen:grant_table: deferring g.e. 0x8 (pfn 0x6def) "
        "(total deferred 1, total leaked 0)\n"
        "[guest] [ 32.1] xen:grant_table: freeing g.e. 0x8 (pfn 0x6def), 0 remaining\n"
    )
    assert report.parse(CONSOLE + deferred).kernel_problems == []
    for bad in ("leaking g.e. 0x8 (pfn 0x6def)", "g.e. 0x8 still pending"):
        console = report.parse(CONSOLE + f"[  40.0] xen:grant_table: {bad}\n")
        assert console.kernel_problems == [f"dom0: [  40.0] xen:grant_table: {bad}"]
