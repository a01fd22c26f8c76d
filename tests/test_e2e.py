"""End to end on real Xen + Linux under QEMU: the generated pair must connect, and
planted faults must make the run FAIL at the step that broke.

Needs qemu-system-x86, busybox-static, gcc-12/make and Debian's package mirror
(about 90 MB on first run, cached afterwards). Each boot takes 1-2 minutes under TCG.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PHASE_TIMINGS

from xbgen.e2e import E2EFailed, E2EResult, report, run
from xbgen.e2e.driver import script_setting
from xbgen.e2e.initramfs import Initramfs, find_busybox
from xbgen.e2e.qemu import choose_accel
from xbgen.errors import E2EError
from xbgen.generate import new

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


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tree `xbgen new mydevice` writes, from the default spec."""
    out = tmp_path_factory.mktemp("gen")
    new(NAME, out / "out", spec_dir=out)
    return out / "out" / NAME


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "logs"


def planted(generated: Path, tmp_path: Path, rel: str, edit: Callable[[str], str]) -> Path:
    """A copy of the generated tree with one file edited; the edit must change it."""
    tree = tmp_path / NAME
    shutil.copytree(generated, tree)
    path = tree / rel
    before = path.read_text()
    after = edit(before)
    assert after != before, f"planting the fault changed nothing in {rel}"
    path.write_text(after)
    return tree


def failing_run(tree: Path, logs: Path, **kwargs: object) -> E2EResult:
    result = run(tree, keep_logs=logs, raise_on_failure=False, **kwargs)  # type: ignore[arg-type]
    assert not result.ok, result.summary()
    assert result.failure
    assert result.serial_log.is_file()
    return result


@e2e
@slow
def test_default_spec_connects_dom0_and_guest(generated: Path, logs: Path) -> None:
    result = run(generated, keep_logs=logs)
    assert result.ok, result.summary()
    PHASE_TIMINGS.append(
        "e2e default spec: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    )
    steps = result.console.steps
    assert all(step.status == "PASS" for step in steps.values())
    for order in ("backend-first", "frontend-first", "activate-first"):
        assert f"stage1/cycle1/{order}/connect" in steps
    for name in ("connect", "guest-cannot-write-backend"):
        assert steps[f"stage2/{name}"].status == "PASS"
    assert [name for name in steps if name.startswith("stage3/")] == [
        f"stage3/{name}" for name in STAGE3_STEPS
    ]
    sides = {(c.side, c.name) for c in result.console.timeline}
    assert {("frontend", "Connected"), ("backend", "Connected")} <= sides
    assert result.console.kernel_problems == []
    assert result.timings["handshake_max"] < 10
    assert any(line.startswith("XBGEN-GUEST connected PASS") for line in result.console.guest_lines)


@e2e
@slow
def test_frontend_that_never_connects_fails_the_connect_step(
    generated: Path, tmp_path: Path, logs: Path
) -> None:
    tree = planted(
        generated, tmp_path, f"frontend/{NAME}front.c",
        lambda c: c.replace("xenbus_switch_state(dev, XenbusStateConnected);", ";"),
    )  # fmt: skip
    result = failing_run(tree, logs, guest=False, handshake_timeout=FAULT_TIMEOUT)
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
    result = failing_run(tree, logs, handshake_timeout=FAULT_TIMEOUT)
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
    result = failing_run(tree, logs, handshake_timeout=FAULT_TIMEOUT)
    failed = result.console.failed_step
    assert failed is not None and failed.name == "stage2/guest-cannot-write-backend"


@e2e
@slow
def test_module_that_warns_on_remove_fails(generated: Path, tmp_path: Path, logs: Path) -> None:
    tree = planted(
        generated, tmp_path, f"backend/{NAME}back.c",
        lambda c: c.replace(f"\t{NAME}back_teardown(dev);\n", f"\tWARN_ON(1);\n\t{NAME}back_teardown(dev);\n"),
    )  # fmt: skip
    result = failing_run(tree, logs, guest=False, handshake_timeout=FAULT_TIMEOUT)
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
    rel: str, step: str, generated: Path, tmp_path: Path, logs: Path
) -> None:
    """xbgen 0.1.0's frontend leaves both ends Closed after a rebind, its backend a dead device."""
    tree = planted(generated, tmp_path, rel, lambda _: (FIXTURE_010 / rel).read_text())
    result = failing_run(tree, logs, handshake_timeout=FAULT_TIMEOUT)
    failed = result.console.failed_step
    assert failed is not None and failed.name == step, result.summary()
    assert "not Connected" in failed.detail or "frontend state" in failed.detail
    earlier = [
        s for s in result.console.steps.values() if s.name.startswith(("stage1/", "stage2/"))
    ]
    assert earlier and all(s.status == "PASS" for s in earlier)


@e2e
@slow
def test_failure_raises_for_the_cli(generated: Path, tmp_path: Path, logs: Path) -> None:
    tree = planted(
        generated, tmp_path, f"frontend/{NAME}front.c",
        lambda c: c.replace("xenbus_switch_state(dev, XenbusStateConnected);", ";"),
    )  # fmt: skip
    with pytest.raises(E2EFailed) as info:
        run(tree, guest=False, keep_logs=logs, handshake_timeout=5)
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
    scripts = [str(INIT / n) for n in ("lib.sh", "dom0-init.sh", "guest-init.sh")]
    proc = subprocess.run(
        ["shellcheck", "-s", "sh", "-x", "-P", "SCRIPTDIR", *scripts],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout
