"""Shared fixtures: a CLI runner and helpers that build spec files from dicts."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from xbgen.spec import Spec

if TYPE_CHECKING:
    from xbgen.e2e import E2EResult, report

REPO = Path(__file__).resolve().parent.parent

#: Phase timings tests record (e.g. the e2e run's download/build/boot), printed
#: at the end of the session so CI logs show where the time went.
PHASE_TIMINGS: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if PHASE_TIMINGS:
        terminalreporter.section("phase timings")
        for line in PHASE_TIMINGS:
            terminalreporter.write_line(line)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def spec_text(**keys: object) -> str:
    return "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items())


def all_option_specs(name: str = "mydevice") -> list[Spec]:
    """The default spec under every combination of its behaviour options."""
    combos = itertools.product(
        [True, False], ["warn", "bug"], ["GPL-2.0-only", "GPL-2.0-only OR MIT"], [0, 3]
    )
    return [
        Spec(name=name, log_messages=log, on_invalid_state=policy, license=lic, backend_domid=dom)
        for log, policy, lic, dom in combos
    ]


def tree_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def passing_steps(result: E2EResult) -> dict[str, report.Step]:
    """An e2e run's steps, after checking that it passed with a clean console."""
    assert result.ok, result.summary()
    steps = result.console.steps
    assert all(step.status == "PASS" for step in steps.values())
    assert result.console.kernel_problems == []
    return steps


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tree `xbgen new mydevice` writes, from the default spec (a ring
    tree), once per test module."""
    from xbgen.generate import new

    out = tmp_path_factory.mktemp("gen")
    new("mydevice", out / "out", spec_dir=out)
    return out / "out" / "mydevice"


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """Where an e2e test keeps its serial logs."""
    return tmp_path / "logs"
