"""activate.sh / deactivate.sh: shellcheck-clean, strict argument handling, and
their xenstore behaviour against fake ``xenstore-*`` tools (tests/fake_xenstore.py).

The e2e test (tests/test_e2e.py) runs these very scripts in dom0 under Xen.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import fake_xenstore
import pytest
from conftest import REPO

from xbgen.render import render
from xbgen.spec import Spec

SCRIPTS = ["activate.sh", "deactivate.sh"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for rel, text in render(Spec(name="mydevice", backend_domid=0)).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
        (root / rel).chmod(0o755)
    return root


def run(
    script: Path, *args: str, path: str = "/usr/bin:/bin", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(script), *args],
        capture_output=True, text=True, env={"PATH": path, **(env or {})}, check=False, timeout=30,
    )  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS)
def test_shellcheck_clean(script: str, tree: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is required (Debian package: shellcheck)"
    for target in (tree / script, REPO / "out" / "mydevice" / script):
        proc = subprocess.run([shellcheck, "--severity=style", str(target)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize(
    "args", [[], ["abc"], ["1", "x"], ["-1"], ["1", "2", "3"], [""], ["1.5"], ["$(id)"]]
)
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
    assert '"b$domu"' not in text
    # chmod comes before the children that inherit it, state comes last.
    order = [text.index(s) for s in (
        'xenstore-chmod "$fe"', '"$fe/backend-id"', 'xenstore-chmod "$be"',
        '"$be/frontend-id"', 'xenstore-write "$fe/state" 1', 'xenstore-write "$be/state" 1',
    )]  # fmt: skip
    assert order == sorted(order)


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

    def put(self, nodes: dict[str, str]) -> None:
        self.file.write_text(json.dumps({"nodes": nodes, "perms": {}}))

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
    assert store.writes() == [
        ["write", FE, ""], ["chmod", FE, f"n{DOMU}", "r0"],
        ["write", f"{FE}/backend-id", "0", f"{FE}/backend", BE],
        ["write", BE, ""], ["chmod", BE, "n0", f"r{DOMU}"],
        ["write", f"{BE}/frontend-id", DOMU, f"{BE}/frontend", FE, f"{BE}/online", "1"],
        ["write", f"{FE}/state", "1"], ["write", f"{BE}/state", "1"],
    ]  # fmt: skip
    assert store.perms() == {FE: [f"n{DOMU}", "r0"], BE: ["n0", f"r{DOMU}"]}


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
