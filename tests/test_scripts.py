"""activate.sh / deactivate.sh: shellcheck-clean, strict argument handling.

Their xenstore behaviour is exercised for real by the e2e test (tests/test_e2e.py),
which runs these very scripts in dom0 under Xen.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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


def run(script: Path, *args: str, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(script), *args],
        capture_output=True, text=True, env={"PATH": path}, check=False, timeout=30,
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
