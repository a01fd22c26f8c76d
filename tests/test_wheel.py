"""The wheel carries its templates and fake headers: install it and run `xbgen new`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, tree_files
from golden.regen import GOLDEN


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (found,) = dist.glob("xbgen-*.whl")
    return found


def test_wheel_contains_templates_and_fake_headers(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "xbgen/templates/frontend/front.c.j2" in names
    assert "xbgen/templates/_c.j2" in names
    assert "xbgen/fake_include/xen/xenbus.h" in names
    assert "xbgen/verify/sim/sim.c" in names
    assert "xbgen/verify/sim/explore.c" in names


def test_installed_wheel_runs_new_from_an_unrelated_folder(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # System site-packages supply the dependencies (no download); xbgen itself
    # comes from the wheel, which the assertion on its location proves.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "-q"]
    subprocess.run([*pip, str(wheel)], check=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import xbgen; print(xbgen.__file__)"],
        cwd=work, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert str(venv) in where
    proc = subprocess.run([str(venv / "bin" / "xbgen"), "new", "mydevice"],
                          cwd=work, capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert tree_files(work / "out" / "mydevice") == tree_files(GOLDEN / "default" / "mydevice")
    check = subprocess.run([str(venv / "bin" / "xbgen"), "check", "out/mydevice"],
                           cwd=work, capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stderr
    verify = subprocess.run(
        [str(venv / "bin" / "xbgen"), "verify", "out/mydevice", "--env", "1", "--hostile", "0"],
        cwd=work, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "all properties hold" in verify.stdout
