"""activate.sh / deactivate.sh: shellcheck-clean, strict argument handling, and
their xenstore behaviour against fake ``xenstore-*`` tools (tests/fake_xenstore.py):
the nodes and permissions they leave match what libxl leaves for a device,
with the backend in dom0 or in a driver domain (``backend_domid``, or the
``BACKEND_DOMID`` environment variable).

The e2e test (tests/test_e2e.py) runs these very scripts in dom0 under Xen.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import fake_xenstore
import pytest
from golden.regen import GOLDEN

from xbgen.render import render
from xbgen.spec import Spec

SCRIPTS = ["activate.sh", "deactivate.sh"]


def write_tree(root: Path, spec: Spec) -> Path:
    for rel, text in render(spec).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        (root / rel).chmod(0o755)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("tree"), Spec(name="mydevice", backend_domid=0))


@pytest.fixture(scope="module")
def driver_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backend in a driver domain: ``backend_domid = 5``."""
    return write_tree(tmp_path_factory.mktemp("driver"), Spec(name="mydevice", backend_domid=5))


def run(
    script: Path, *args: str, path: str = "/usr/bin:/bin", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(script), *args],
        capture_output=True, text=True, env={"PATH": path, **(env or {})}, check=False, timeout=30,
    )  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS)
def test_shellcheck_clean(script: str, tree: Path, driver_tree: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is required (Debian package: shellcheck)"
    goldens = sorted(GOLDEN.glob(f"*/mydevice/{script}"))
    assert goldens, "no golden trees"
    for target in (tree / script, driver_tree / script, *goldens):
        proc = subprocess.run([shellcheck, "--severity=style", str(target)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize(
    "args",
    [[], ["abc"], ["1", "x"], ["-1"], ["1", "2", "3"], [""], ["1.5"], ["$(id)"],
     ["01"], ["1", "00"]],  # ids have no leading zero: /local/domain/01 is not domain 1
)  # fmt: skip
def test_bad_ids_get_usage_and_exit_2(script: str, args: list[str], tree: Path) -> None:
    proc = run(tree / script, *args)
    assert proc.returncode == 2, proc.stderr
    assert "usage:" in proc.stderr
    assert "DOMU_ID" in proc.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_missing_xenstore_tools_are_named(script: str, tree: Path, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    for tool in ("sleep", "echo"):
        if shutil.which(tool):
            (empty / tool).symlink_to(shutil.which(tool))  # type: ignore[arg-type]
    proc = run(tree / script, "1", path=str(empty))
    assert proc.returncode == 1
    assert "xenstore-" in proc.stderr and "not found" in proc.stderr


def test_permissions_are_least_privilege(tree: Path) -> None:
    text = (tree / "activate.sh").read_text()
    assert 'xenstore-chmod "$be" "n$backend_domid" "r$domu"' in text
    assert 'xenstore-chmod "$fe" "n$domu" "r$backend_domid"' in text
    assert 'xenstore-chmod "$dir" n0 "r$backend_domid"' in text
    assert '"b$domu"' not in text
    # chmod comes before the children that inherit it, state comes last.
    order = [text.index(s) for s in (
        'xenstore-chmod "$fe"', '"$fe/backend-id"', 'xenstore-chmod "$dir" n0',
        'xenstore-chmod "$be"', '"$be/frontend-id"', 'xenstore-write "$fe/state" 1',
        'xenstore-write "$be/state" 1',
    )]  # fmt: skip
    assert order == sorted(order)


@pytest.mark.parametrize("script", SCRIPTS)
def test_both_scripts_say_they_run_in_dom0(script: str, driver_tree: Path) -> None:
    text = (driver_tree / script).read_text()
    assert "Run it as root in dom0" in text
    assert "Run it in the backend" not in text
    usage = run(driver_tree / script).stderr
    assert "as root in dom0" in usage
    assert "BACKEND_DOMID" in usage and "(default 5)" in usage


# --------------------------------------------------------------------------- fake xenstore

DOMU = "1"
FE = f"/local/domain/{DOMU}/device/mydevice/0"
BE = f"/local/domain/0/backend/mydevice/{DOMU}/0"
#: deactivate.sh's wait in these tests.
TIMEOUT = 3


class FakeStore:
    """A JSON-backed xenstore the generated scripts talk to through fake tools."""

    def __init__(self, root: Path) -> None:
        self.file = root / "store.json"
        self.bin = root / "bin"
        fake_xenstore.install(self.bin, self.file)
        self.path = f"{self.bin}:/usr/bin:/bin"

    def put(self, nodes: dict[str, str], perms: dict[str, list[str]] | None = None) -> None:
        self.file.write_text(json.dumps({"nodes": nodes, "perms": perms or {}}))

    def nodes(self) -> dict[str, str]:
        return json.loads(self.file.read_text())["nodes"]

    def perms(self) -> dict[str, list[str]]:
        return json.loads(self.file.read_text())["perms"]

    def calls(self) -> list[list[str]]:
        log = Path(f"{self.file}.log")
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def writes(self) -> list[list[str]]:
        return [c for c in self.calls() if c[0] in ("write", "chmod")]

    def tool(self, name: str, *args: str) -> None:
        subprocess.run([str(self.bin / f"xenstore-{name}"), *args], check=True)

    def under(self, prefix: str) -> list[str]:
        return [k for k in self.nodes() if k == prefix or k.startswith(prefix + "/")]


def plugged(fe_state: str | None, be_state: str = "4") -> dict[str, str]:
    """The nodes activate.sh leaves, with the given states (None: frontend dir gone)."""
    nodes = {
        "/local/domain/0/backend/mydevice": "",
        f"/local/domain/0/backend/mydevice/{DOMU}": "",
        BE: "", f"{BE}/frontend-id": DOMU, f"{BE}/frontend": FE, f"{BE}/online": "1",
        f"{BE}/state": be_state,
    }  # fmt: skip
    if fe_state is not None:
        nodes |= {
            f"/local/domain/{DOMU}/device/mydevice": "",
            FE: "", f"{FE}/backend-id": "0", f"{FE}/backend": BE, f"{FE}/state": fe_state,
        }  # fmt: skip
    return nodes


@pytest.fixture
def store(tmp_path: Path) -> FakeStore:
    return FakeStore(tmp_path)


def timed(
    script: Path, store: FakeStore, *args: str, timeout: int = TIMEOUT
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = run(script, *args, path=store.path, env={"TIMEOUT": str(timeout)})
    return proc, time.monotonic() - started


def test_activate_writes_in_order_on_a_clean_store(tree: Path, store: FakeStore) -> None:
    store.put({"/local/domain/0": "", f"/local/domain/{DOMU}": ""})
    proc = run(tree / "activate.sh", DOMU, path=store.path)
    assert proc.returncode == 0, proc.stderr
    calls = store.calls()
    assert calls[:2] == [["exists", FE], ["exists", BE]]
    assert ["list", "/local/domain/0/backend/mydevice"] in calls
    parents = ["/local/domain/0/backend", "/local/domain/0/backend/mydevice",
               f"/local/domain/0/backend/mydevice/{DOMU}"]  # fmt: skip
    assert store.writes() == [
        ["write", FE, ""], ["chmod", FE, f"n{DOMU}", "r0"],
        ["write", f"{FE}/backend-id", "0", f"{FE}/backend", BE],
        *[call for p in parents for call in (["write", p, ""], ["chmod", p, "n0", "r0"])],
        ["write", BE, ""], ["chmod", BE, "n0", f"r{DOMU}"],
        ["write", f"{BE}/frontend-id", DOMU, f"{BE}/frontend", FE, f"{BE}/online", "1"],
        ["write", f"{FE}/state", "1"], ["write", f"{BE}/state", "1"],
    ]  # fmt: skip
    perms = store.perms()
    assert {k: perms[k] for k in (FE, BE, *parents)} == {
        FE: [f"n{DOMU}", "r0"], BE: ["n0", f"r{DOMU}"], **{p: ["n0", "r0"] for p in parents},
    }  # fmt: skip
    # the keys inherit their directory's permissions
    assert all(perms[k] == perms[k.rsplit("/", 1)[0]] for k in store.nodes() if k.startswith(
        (f"{FE}/", f"{BE}/")))  # fmt: skip


@pytest.mark.parametrize("stale", ["frontend", "backend"])
def test_activate_refuses_an_existing_device_directory(
    stale: str, tree: Path, store: FakeStore
) -> None:
    left = plugged("6", "6")
    keep = FE if stale == "frontend" else BE
    nodes = {k: v for k, v in left.items() if k.startswith(keep) or not k.startswith((FE, BE))}
    store.put(nodes)
    proc = run(tree / "activate.sh", DOMU, path=store.path)
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert f"{keep} already exists" in proc.stderr
    assert "deactivate.sh" in proc.stderr
    assert store.writes() == []
    assert store.nodes() == nodes


@pytest.mark.parametrize(
    ("case", "fe_state", "be_state"),
    [("frontend Closed", "6", "6"), ("frontend Closed, backend Connected", "6", "4"),
     ("guest destroyed", None, "6"), ("guest destroyed, backend left Connected", None, "4")],
)  # fmt: skip
def test_deactivate_returns_at_once_when_nothing_can_answer(
    case: str, fe_state: str | None, be_state: str, tree: Path, store: FakeStore
) -> None:
    store.put(plugged(fe_state, be_state))
    proc, _ = timed(tree / "deactivate.sh", store, DOMU)
    assert proc.returncode == 0, f"{case}: {proc.stderr}"
    # Prompt: one look at each state, no polling (not timed: load varies).
    assert [c[0] for c in store.calls()].count("read") <= 2, store.calls()
    assert store.under(FE) == [] and store.under(BE) == [], store.nodes()
    # No write: online/state would recreate nodes of a vanished device.
    assert store.writes() == []


def test_deactivate_forces_and_fails_when_nobody_answers(tree: Path, store: FakeStore) -> None:
    store.put(plugged("4", "4"))
    proc, seconds = timed(tree / "deactivate.sh", store, DOMU, timeout=1)
    assert proc.returncode == 1
    assert "removed anyway" in proc.stderr and proc.stderr.count("\n") == 1
    assert seconds >= 1
    assert store.writes() == [["write", f"{BE}/online", "0"], ["write", f"{BE}/state", "5"]]
    assert store.under(FE) == [] and store.under(BE) == []


FE_CLOSED = ("write", f"{FE}/state", "6")
BE_CLOSED = ("write", f"{BE}/state", "6")
FE_GONE = ("rm", FE)


@pytest.mark.parametrize(
    ("answer", "moves", "max_polls"),
    # Counted in polls, not seconds (each fake tool call is a Python start-up):
    # once one end is done the other gets ten more polls (a second) to follow;
    # waiting out TIMEOUT=8 would take about eighty.
    [("both Closed", [FE_CLOSED, BE_CLOSED], 2),
     ("guest destroyed, backend Closed", [FE_GONE, BE_CLOSED], 2),
     ("backend Closed", [BE_CLOSED], 12),
     ("frontend Closed", [FE_CLOSED], 12),
     ("guest destroyed", [FE_GONE], 12)],
)  # fmt: skip
def test_deactivate_stops_waiting_when_either_end_is_done(
    answer: str, moves: list[tuple[str, ...]], max_polls: int, tree: Path, store: FakeStore
) -> None:
    store.put(plugged("4", "4"))
    proc = subprocess.Popen(
        ["/bin/sh", str(tree / "deactivate.sh"), DOMU],
        env={"PATH": store.path, "TIMEOUT": "8"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while ["write", f"{BE}/state", "5"] not in store.calls():
        assert time.monotonic() < deadline and proc.poll() is None, "deactivate.sh never asked"
        time.sleep(0.05)
    for tool, *args in moves:
        store.tool(tool, *args)
    answered = len(store.calls())
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"{answer}: {err}"
    polls = store.calls()[answered:].count(["read", f"{BE}/state"])
    assert polls <= max_polls, f"{answer}: {polls} more polls"
    assert store.under(FE) == [] and store.under(BE) == []


# --------------------------------------------------------------------------- driver domains

#: A driver domain running the backend, and the guest.
BE_DOM, FE_DOM = "5", "1"
FE5 = f"/local/domain/{FE_DOM}/device/mydevice/0"
BE5 = f"/local/domain/{BE_DOM}/backend/mydevice/{FE_DOM}/0"
BE5_PARENTS = [f"/local/domain/{BE_DOM}/backend", f"/local/domain/{BE_DOM}/backend/mydevice",
               f"/local/domain/{BE_DOM}/backend/mydevice/{FE_DOM}"]  # fmt: skip


def libxl_homes(*domids: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each domain's home as libxl__domain_make (xen.git
    tools/libs/light/libxl_create.c) leaves it: /local/domain/D and
    /local/domain/D/device owned by dom0, readable by D ("roperm": n0 rD);
    dom0's own home, from xen-init-dom0, is dom0's alone."""
    nodes, perms = {"/local/domain/0": ""}, {"/local/domain/0": ["n0"]}
    for d in domids:
        for node in (f"/local/domain/{d}", f"/local/domain/{d}/device"):
            nodes[node], perms[node] = "", ["n0", f"r{d}"]
    return nodes, perms


#: What libxl leaves for device 0 of guest FE_DOM with its backend in driver
#: domain BE_DOM, on the homes above (xen.git tools/libs/light, read at
#: c447b7308b13): libxl__device_add_async/libxl__device_add (libxl_device.c)
#: put backend-id and state = 1 in the frontend's keys, frontend-id, online = 1
#: and state = 1 in the backend's; libxl__device_generic_add writes, in one
#: transaction, the frontend directory with frontend_perms (owner the guest,
#: read for the backend domain), its "backend" key and the keys with the same
#: perms, then the backend directory with backend_perms (owner the backend
#: domain, read for the guest), its "frontend" key and the keys, which inherit.
#: The parents it does not name (device/mydevice, backend, backend/mydevice,
#: backend/mydevice/FE_DOM) are created by xenstored, which gives a node made
#: by dom0 its parent's permissions (tools/xenstored/core.c construct_node).
LIBXL_DRIVER_DOMAIN: dict[str, tuple[str, list[str]]] = {
    f"/local/domain/{FE_DOM}/device/mydevice": ("", ["n0", f"r{FE_DOM}"]),
    FE5: ("", [f"n{FE_DOM}", f"r{BE_DOM}"]),
    f"{FE5}/backend": (BE5, [f"n{FE_DOM}", f"r{BE_DOM}"]),
    f"{FE5}/backend-id": (BE_DOM, [f"n{FE_DOM}", f"r{BE_DOM}"]),
    f"{FE5}/state": ("1", [f"n{FE_DOM}", f"r{BE_DOM}"]),
    **{parent: ("", ["n0", f"r{BE_DOM}"]) for parent in BE5_PARENTS},
    BE5: ("", [f"n{BE_DOM}", f"r{FE_DOM}"]),
    f"{BE5}/frontend": (FE5, [f"n{BE_DOM}", f"r{FE_DOM}"]),
    f"{BE5}/frontend-id": (FE_DOM, [f"n{BE_DOM}", f"r{FE_DOM}"]),
    f"{BE5}/online": ("1", [f"n{BE_DOM}", f"r{FE_DOM}"]),
    f"{BE5}/state": ("1", [f"n{BE_DOM}", f"r{FE_DOM}"]),
}


def device_nodes(store: FakeStore) -> dict[str, tuple[str, list[str]]]:
    """The nodes under the guest's device/ and the driver domain's backend/."""
    nodes, perms = store.nodes(), store.perms()
    roots = (f"/local/domain/{FE_DOM}/device/", f"/local/domain/{BE_DOM}/backend")
    return {k: (v, perms.get(k, [])) for k, v in nodes.items() if k.startswith(roots)}


def access(perms: list[str], domid: str) -> str:
    """What ``domid`` may do to a node: xenstored's perm_for_conn (the owner
    everything, a listed domain its letter, anyone else the first entry's)."""
    if domid == "0" or perms[0][1:] == domid:
        return "rw"
    letter = next((p[0] for p in perms[1:] if p[1:] == domid), perms[0][0])
    return {"n": "", "r": "r", "w": "w", "b": "rw"}[letter]


@pytest.mark.parametrize("how", ["spec", "BACKEND_DOMID"])
def test_a_driver_domain_device_is_what_libxl_writes(
    how: str, tree: Path, driver_tree: Path, store: FakeStore
) -> None:
    """backend_domid = 5 in the spec, or BACKEND_DOMID=5 on a dom0 tree."""
    store.put(*libxl_homes(FE_DOM, BE_DOM))
    script, env = (driver_tree, {}) if how == "spec" else (tree, {"BACKEND_DOMID": BE_DOM})
    proc = run(script / "activate.sh", FE_DOM, path=store.path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert device_nodes(store) == LIBXL_DRIVER_DOMAIN


def test_each_domain_gets_what_its_xenbus_needs_and_no_more(
    driver_tree: Path, store: FakeStore
) -> None:
    """The driver domain's xenbus lists backend, backend/TYPE and
    backend/TYPE/FE to find its devices (xenbus_probe_devices), checks the
    frontend directory exists and watches its state (backend_bus_id,
    watch_otherend); the guest's lists device/TYPE and watches the backend's
    state.  Each writes only its own device directory."""
    store.put(*libxl_homes(FE_DOM, BE_DOM))
    assert run(driver_tree / "activate.sh", FE_DOM, path=store.path).returncode == 0
    got = {path: (access(perms, BE_DOM), access(perms, FE_DOM))
           for path, (_, perms) in device_nodes(store).items()}  # fmt: skip
    for path, (backend, frontend) in got.items():
        if path == BE5 or path.startswith(f"{BE5}/"):
            want = ("rw", "r")
        elif path == FE5 or path.startswith(f"{FE5}/"):
            want = ("r", "rw")
        elif path in BE5_PARENTS:
            want = ("r", "")
        else:
            want = ("", "r")  # the guest's device/mydevice
        assert (backend, frontend) == want, path


def test_backend_parents_are_readable_on_a_home_libxl_did_not_make(
    driver_tree: Path, store: FakeStore
) -> None:
    """A home that is dom0's alone (made by hand, or implicitly, as
    init-dom0less makes /local/domain/D): the driver domain still reads the
    directories above its backend."""
    nodes, perms = libxl_homes(FE_DOM, BE_DOM)
    perms[f"/local/domain/{BE_DOM}"] = ["n0"]
    store.put(nodes, perms)
    assert run(driver_tree / "activate.sh", FE_DOM, path=store.path).returncode == 0
    assert {p: store.perms()[p] for p in BE5_PARENTS} == {
        p: ["n0", f"r{BE_DOM}"] for p in BE5_PARENTS
    }


def test_existing_backend_parents_are_left_alone(driver_tree: Path, store: FakeStore) -> None:
    nodes, perms = libxl_homes(FE_DOM, BE_DOM)
    vif = f"/local/domain/{BE_DOM}/backend/vif/{FE_DOM}/0"
    nodes |= {BE5_PARENTS[0]: "", vif: "", BE5_PARENTS[1]: ""}
    perms |= {BE5_PARENTS[0]: ["n0", f"r{BE_DOM}"], BE5_PARENTS[1]: ["n0", "b9"]}
    store.put(nodes, perms)
    assert run(driver_tree / "activate.sh", FE_DOM, path=store.path).returncode == 0
    touched = {call[1] for call in store.writes()}
    assert BE5_PARENTS[0] not in touched and BE5_PARENTS[1] not in touched
    assert store.perms()[BE5_PARENTS[1]] == ["n0", "b9"]
    assert store.perms()[BE5_PARENTS[2]] == ["n0", f"r{BE_DOM}"]  # made here


@pytest.mark.parametrize("dead", [BE_DOM, FE_DOM])
def test_activate_refuses_a_domain_that_is_not_running(
    dead: str, driver_tree: Path, store: FakeStore
) -> None:
    """A driver domain's id changes each time it starts: an old one is refused."""
    nodes, perms = libxl_homes(*[d for d in (FE_DOM, BE_DOM) if d != dead])
    store.put(nodes, perms)
    proc = run(driver_tree / "activate.sh", FE_DOM, path=store.path)
    assert proc.returncode == 1
    assert f"no domain {dead} " in proc.stderr and proc.stderr.count("\n") == 1
    assert store.writes() == []


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("value", ["", "x", "-1", "05", "1.5", "5 ", " 5", "0x5", "$(id)"])
def test_a_bad_backend_domid_gets_usage_and_exit_2(
    script: str, value: str, tree: Path, store: FakeStore
) -> None:
    """Set but empty is an error too: a failed $(xl domid NAME) must not fall
    back to the spec's domain."""
    store.put(*libxl_homes(FE_DOM, BE_DOM))
    proc = run(tree / script, FE_DOM, path=store.path, env={"BACKEND_DOMID": value})
    assert proc.returncode == 2, proc.stderr
    assert "usage:" in proc.stderr and "BACKEND_DOMID" in proc.stderr
    assert store.calls() == []


def test_deactivate_follows_backend_domid(tree: Path, store: FakeStore) -> None:
    """Unplugged with the BACKEND_DOMID it was plugged with, from dom0."""
    nodes, perms = libxl_homes(FE_DOM, BE_DOM)
    store.put(nodes, perms)
    env = {"BACKEND_DOMID": BE_DOM}
    assert run(tree / "activate.sh", FE_DOM, path=store.path, env=env).returncode == 0
    # A second plug is refused with a hint that names the variable.
    again = run(tree / "activate.sh", FE_DOM, path=store.path, env=env)
    assert again.returncode == 1
    assert f"run BACKEND_DOMID={BE_DOM} deactivate.sh {FE_DOM} 0 first" in again.stderr
    store.tool("write", f"{FE5}/state", "6")
    proc = run(tree / "deactivate.sh", FE_DOM, path=store.path, env={**env, "TIMEOUT": "1"})
    assert proc.returncode == 0, proc.stderr
    assert store.under(FE5) == [] and store.under(BE5) == []
    # The parents stay for the next plug, with their permissions.
    assert {p: store.perms()[p] for p in BE5_PARENTS} == {
        p: ["n0", f"r{BE_DOM}"] for p in BE5_PARENTS
    }


@pytest.mark.parametrize(("backend", "waits"), [("0", True), (BE_DOM, False)])
def test_stale_backend_wait_only_for_a_backend_in_dom0(
    backend: str, waits: bool, tree: Path, store: FakeStore, tmp_path: Path
) -> None:
    """The script runs in dom0 and sees only dom0's backend devices."""
    sysfs = tmp_path / "xen-backend"
    (sysfs / f"mydevice-{FE_DOM}-0").mkdir(parents=True)
    text = (tree / "activate.sh").read_text()
    where = "stale=/sys/bus/xen-backend/devices/"
    assert text.count(where) == 1 and text.count("tries=50") == 1
    script = tmp_path / "activate.sh"
    script.write_text(text.replace(where, f"stale={sysfs}/").replace("tries=50", "tries=2"))
    store.put(*libxl_homes(FE_DOM, BE_DOM))
    proc = run(script, FE_DOM, path=store.path, env={"BACKEND_DOMID": backend})
    if waits:
        assert proc.returncode == 1 and "still exists" in proc.stderr, proc.stderr
        assert store.writes() == []
    else:
        assert proc.returncode == 0, proc.stderr


def test_activate_removes_the_backends_of_domains_that_are_gone(
    tree: Path, store: FakeStore
) -> None:
    """After a save/restore, migration or reboot the guest has a new domid; the
    old one's backend directories are removed, a live guest's are kept."""
    old, other, new = "3", "4", "7"
    nodes = {"/local/domain/0": "", f"/local/domain/{other}": "", f"/local/domain/{new}": ""}
    for dom in (old, other):
        renamed = {re.sub(rf"/{DOMU}(?=/|$)", f"/{dom}", k): v for k, v in plugged(None).items()}
        nodes.update(renamed)
    store.put(nodes)
    proc = run(tree / "activate.sh", new, path=store.path)
    assert proc.returncode == 0, proc.stderr
    assert f"removed the backend directories of domain {old}, which is gone" in proc.stdout
    assert store.under(f"/local/domain/0/backend/mydevice/{old}") == []
    assert store.under(f"/local/domain/0/backend/mydevice/{other}/0")
    assert store.under(f"/local/domain/0/backend/mydevice/{new}/0")
    assert other not in proc.stdout


def fake_xl(folder: Path) -> Path:
    """An `xl` that records its arguments (the e2e run uses the real one)."""
    log = folder / "xl.log"
    script = folder / "xl"
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    script.chmod(0o755)
    return log


def test_activate_unpause_plugs_then_unpauses(tree: Path, store: FakeStore) -> None:
    store.put({"/local/domain/0": "", f"/local/domain/{DOMU}": ""})
    log = fake_xl(store.bin)
    proc = run(tree / "activate.sh", "--unpause", DOMU, path=store.path)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text() == f"unpause {DOMU}\n"
    assert store.nodes()[f"{BE}/state"] == "1" and f"domain {DOMU} unpaused" in proc.stdout


def test_activate_unpause_wants_xl(tree: Path, store: FakeStore) -> None:
    store.put({"/local/domain/0": "", f"/local/domain/{DOMU}": ""})
    proc = run(tree / "activate.sh", "--unpause", DOMU, path=store.path)
    assert proc.returncode == 1 and "xl not found" in proc.stderr
    assert store.writes() == []


def test_activate_refuses_a_paused_guest_it_cannot_unpause(tree: Path, store: FakeStore) -> None:
    """An unknown option is a usage error, not a domain id."""
    proc = run(tree / "activate.sh", "--pause", DOMU, path=store.path)
    assert proc.returncode == 2 and "--unpause" in proc.stderr
