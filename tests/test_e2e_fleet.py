"""Where Xen users run it: other Debian releases as dom0 and guest, guests of
several releases under one dom0, and the backend in a driver domain.

The default release (bookworm) boots in test_e2e.py.  Here: a bookworm dom0
with bullseye (5.10) and sid (7.2) guests connected at once, and a driver
domain running the backend of a ``backend_domid = 5`` tree, in CI; the full
run on each other release (bullseye, trixie, sid as dom0 and guest) is marked
``matrix`` and left out of the default test run for time: ``tests/e2e-matrix.sh``
runs it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import PHASE_TIMINGS, passing_steps

from xbgen import kernels
from xbgen.e2e import Scenario, images, line_of, release_of, run
from xbgen.e2e import assets as assets_mod
from xbgen.errors import UsageError
from xbgen.generate import generate
from xbgen.spec import STARTER_RING, Spec, default_spec

e2e = pytest.mark.e2e
slow = pytest.mark.slow
matrix = pytest.mark.matrix
NAME = "mydevice"
#: Stage 2 and the ring self-test; no dom0-only rounds, no stage 3.
SHORT = Scenario(orders=(), stage3=False, ring_cycles=0, requests=1000)
OTHER_RELEASES = ("bullseye", "trixie", "sid")


# ------------------------------------------------------------------ no boot


def test_release_names_and_kernel_line_aliases() -> None:
    assert [release_of(n) for n in ("5.10", "6.1", "6.12", "7.2")] == [
        "bullseye", "bookworm", "trixie", "sid",
    ]  # fmt: skip
    assert release_of("trixie") == "trixie"
    assert [line_of(r) for r in ("bullseye", "sid")] == ["5.10", "7.2"]
    with pytest.raises(UsageError, match=r"unknown release 'buster'.*bullseye.*5\.10"):
        release_of("buster")


def test_guest_releases_and_driver_domain_need_the_guest_stage(generated: Path) -> None:
    with pytest.raises(UsageError, match="need the guest stage"):
        run(generated, Scenario(guest=False, guest_releases=("sid",)))
    with pytest.raises(UsageError, match="need the guest stage"):
        run(generated, Scenario(guest=False, driver_domain=True))


def test_one_cpu_per_domain() -> None:
    assert Scenario().cpus == 2
    assert Scenario(guest=False).cpus == 2
    assert Scenario(guest_releases=("bullseye", "sid")).cpus == 4
    assert Scenario(driver_domain=True).cpus == 3


def test_config_names_the_other_guests_and_the_driver_domain(generated: Path) -> None:
    from xbgen.e2e.driver import Driver

    drv = Driver("mydevice", "0", Path("f.ko"), Path("b.ko"), Path("a"), Path("d"), 0.0)
    text = images.config_text(drv, Scenario(guest_releases=("bullseye", "sid")))
    assert "GUEST_RELEASES='bullseye sid'\n" in text and "DRIVER_DOMAIN=0\n" in text
    assert "DRIVER_DOMAIN=1\n" in images.config_text(drv, Scenario(driver_domain=True))


@slow
@pytest.mark.parametrize(
    ("release", "xen", "xenstore"),
    [("bullseye", "4.14", "libxenstore3.0"), ("bookworm", "4.17", "libxenstore4"),
     ("trixie", "4.20", "libxenstore4"), ("sid", "4.20", "libxenstore4")],
)  # fmt: skip
def test_each_release_boots_its_own_xen(release: str, xen: str, xenstore: str) -> None:
    """The boot set comes from the release's own packages (apt's lists for it)."""
    abi = kernels.fetch(line_of(release), refresh=False).abi
    line, packages = assets_mod.packages_for(abi, release)
    assert line == xen
    assert f"xen-hypervisor-{xen}-amd64" in packages and f"xen-utils-{xen}" in packages
    assert xenstore in packages and "libc6" in packages
    assert f"linux-image-{abi}" in packages
    assert not any(p.startswith(("python3", "perl")) for p in packages)


# ------------------------------------------------------------------ boots


#: The mixed-guests boot's spec: its calls carry a buffer both ways by
#: persistent grants, in an indirect page (issue 17's transfer = "map").
MAP_SPEC = {
    "ring": {
        **STARTER_RING,
        "response": {**STARTER_RING["response"], "sum": "u32"},
        "buffer": {"max": "128KiB", "direction": "both", "transfer": "map"},
    },
}


@e2e
@slow
def test_guests_of_other_releases_connect_at_once(tmp_path: Path, logs: Path) -> None:
    """A bookworm dom0 with its own guest, a PVH one, beside a bullseye (5.10)
    and a sid (7.2) PV guest, each frontend built for its own kernel, all
    Connected at once (a fleet of both x86 guest types, issue 18), their calls
    carrying buffers by persistent grants: the self-tests of all three and
    the bookworm guest's 10,000-call buffer runs check every byte."""
    spec = Spec.model_validate({**default_spec(NAME).model_dump(), **MAP_SPEC})
    tree = generate(spec, tmp_path / "out").tree
    scenario = replace(SHORT, guest_releases=("bullseye", "sid"), guest_type="pvh")
    result = run(tree, scenario, keep_logs=logs)
    steps = passing_steps(result)
    for size in (4096, 65536, 131072):
        test = result.console.selftests[f"ring/buffer-{size}"]
        assert test.clean and test.bytes > 0, test
    for rel in ("bullseye", "sid"):
        for step in ("connect", "guest-cannot-write-backend", "selftest", "deactivate"):
            assert f"mixed/{rel}/{step}" in steps, step
        test = result.console.selftests[f"mixed/{rel}/selftest"]
        assert (test.ok, test.bad, test.timeouts) == (test.requests, 0, 0)
    assert "mixed/all-connected" in steps
    assert "domains" in steps["mixed/all-connected"].detail
    # Each guest ran its own release's kernel.
    for abi in ("5.10.", "7.2."):
        assert any(abi in line for line in result.console.guest_lines), abi
    # The main guest entered its kernel as PVH (Xen paging it by HAP), the
    # others as PV.
    text = result.serial_log.read_text(errors="replace")
    assert "HVM: Hardware Assisted Paging (HAP) detected" in text
    assert re.search(r"^\[guest\] .*Booting kernel on Xen PVH", text, re.M)
    for rel in ("bullseye", "sid"):
        assert re.search(
            rf"^\[guest:guest-{rel}\] .*Booting (paravirtualized )?kernel on Xen\s*$", text, re.M
        )
    PHASE_TIMINGS.append(f"e2e mixed guests: qemu {result.timings['qemu']:.0f}s")


#: The driver-domain boot's spec: its calls carry a buffer both ways (issue 17).
BUFFER_SPEC = {
    "backend_domid": 5,
    "ring": {
        **STARTER_RING,
        "response": {**STARTER_RING["response"], "sum": "u32"},
        "buffer": {"max": "64KiB", "direction": "both"},
    },
}


@e2e
@slow
def test_driver_domain_runs_the_backend(tmp_path: Path, logs: Path) -> None:
    """backend_domid = 5: the backend runs in a PV guest, not dom0; the pair
    connects, moves data (requests and buffers by grant copy), neither guest
    can write the other's directory, and deactivate.sh (run in dom0) closes
    both."""
    spec = Spec.model_validate({**default_spec(NAME).model_dump(), **BUFFER_SPEC})
    tree = generate(spec, tmp_path / "out").tree
    scenario = replace(SHORT, stage3=True, ring_cycles=2)
    result = run(tree, scenario, keep_logs=logs)
    steps = passing_steps(result)
    for step in (
        "stage2/create-driver-domain", "stage2/connect", "stage2/log-lines",
        "stage2/guest-cannot-write-backend", "stage2/driver-domain-cannot-write-frontend",
        "ring/selftest-1", "ring/buffer-4096", "ring/buffer-65536", "ring/cycles",
        "stage3/deactivate",
        "stage3/driver-domain-device-gone", "stage3/destroy",
    ):  # fmt: skip
        assert step in steps, step
    # The backend ran in another domain than dom0 and served the guest there.
    made = re.fullmatch(
        r"domain (\d+) runs mydeviceback", steps["stage2/create-driver-domain"].detail
    )
    assert made and int(made.group(1)) > 0, steps["stage2/create-driver-domain"]
    assert any(c.side == "backend" and c.name == "Connected" for c in result.console.timeline)
    test = result.console.selftests["ring/selftest-1"]
    assert (test.ok, test.bad, test.timeouts) == (test.requests, 0, 0)
    # Buffers of varied sizes (in every self-test) and 10,000 calls of each
    # size class, both ways, crc32 and inverted bytes checked by the guest:
    # the driver domain copied them by grant from and into the guest's pages.
    for size in (4096, 65536):
        test = result.console.selftests[f"ring/buffer-{size}"]
        assert (test.requests, test.ok, test.bad) == (10_000, 10_000, 0), test
        assert test.bytes == 2 * size * 10_000, test
    assert result.console.selftests["ring/selftest-1"].bytes > 0
    # After the unplug/plug cycles, what the driver domain and Xen hold for the
    # device is back where it was: its IRQ and ring mapping, one of each.
    before, after = result.console.counters["before"], result.console.counters["after"]
    assert before["dd.irq_dev"] == before["dd.ring_maps"] == 1
    assert before["d0.irq_dev"] == before["d0.ring_maps"] == 0
    assert before["xen.evtchn_dd"] > 0
    kept = {k: v for k, v in after.items() if not k.endswith(("gnt_deferred", "gnt_freed"))}
    assert kept == {k: before[k] for k in kept}
    PHASE_TIMINGS.append(f"e2e driver domain: qemu {result.timings['qemu']:.0f}s")


@e2e
@slow
@matrix
@pytest.mark.parametrize("release", OTHER_RELEASES)
def test_release_as_dom0_and_guest(release: str, generated: Path, tmp_path: Path) -> None:
    """Each other release as dom0 and guest, its own Xen and kernel, every
    stage of the default run, for the default (ring) spec and a handshake-only one."""
    hs = generate(default_spec(NAME, ring=False), tmp_path / "hs").tree
    for tree in (generated, hs):
        result = run(tree, Scenario(release=release), keep_logs=tmp_path / "logs")
        steps = passing_steps(result)
        assert "stage3/cleanup" in steps
        PHASE_TIMINGS.append(
            f"e2e {release} {tree.parent.name}: qemu {result.timings['qemu']:.0f}s"
        )


def test_cli_names_a_bad_release_before_any_work(generated: Path) -> None:
    for args, message in (
        (["--release", "buster"], "unknown release 'buster': use bullseye"),
        (["--guest-release", "woody"], "unknown release 'woody'"),
        (["--guest-release", "sid", "--no-guest"], "need the guest stage"),
    ):
        proc = subprocess.run(
            ["xbgen", "e2e", str(generated), *args], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 2, proc
        assert message in proc.stderr


@e2e
@slow
@matrix
def test_oldest_guest_on_the_newest_host(generated: Path, logs: Path) -> None:
    """A bullseye (5.10) guest under a sid dom0 (Xen 4.20, Linux 7.2)."""
    scenario = replace(SHORT, guest_releases=("bullseye",))
    result = run(generated, replace(scenario, release="sid"), keep_logs=logs)
    steps = passing_steps(result)
    assert "mixed/all-connected" in steps and "mixed/bullseye/selftest" in steps
    PHASE_TIMINGS.append(f"e2e sid dom0 + bullseye guest: qemu {result.timings['qemu']:.0f}s")
