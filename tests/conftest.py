"""Shared fixtures: a CLI runner and helpers that build spec files from dicts."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xbgen.spec import Spec

REPO = Path(__file__).resolve().parent.parent


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
