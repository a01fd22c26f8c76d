"""Rendering: golden output, determinism, option coverage, layout helpers."""

from __future__ import annotations

import re

import pytest
from conftest import REPO, all_option_specs, tree_files

from xbgen.check import check_files
from xbgen.render import OUTPUTS, c_proto, render, render_spec_file
from xbgen.spec import Spec, default_spec, parse_spec

GOLDEN = REPO / "out" / "mydevice"


def test_golden_tree_is_reproduced_byte_for_byte() -> None:
    rendered = {path: text.encode() for path, text in render(default_spec("mydevice")).items()}
    assert rendered == tree_files(GOLDEN)


def test_golden_scripts_are_executable() -> None:
    for script in ("activate.sh", "deactivate.sh"):
        assert (GOLDEN / script).stat().st_mode & 0o111


def test_rendering_is_deterministic() -> None:
    spec = default_spec("mydevice")
    assert render(spec) == render(spec)
    assert render_spec_file(spec) == render_spec_file(spec)


def test_starter_spec_round_trips_and_comments_every_key() -> None:
    spec = default_spec("netdev2")
    text = render_spec_file(spec)
    assert parse_spec(text.encode()) == spec
    lines = text.splitlines()
    for key in Spec.model_fields:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} ="))
        assert lines[index - 1].startswith("#"), f"{key} has no comment above it"


@pytest.mark.parametrize(
    "spec",
    all_option_specs(),
    ids=lambda s: f"{s.log_messages}-{s.on_invalid_state}-{s.license}-{s.backend_domid}",
)
def test_every_option_combination_passes_the_check(spec: Spec) -> None:
    files = render(spec)
    assert len(files) == len(OUTPUTS)
    assert check_files(files) == []


def test_seed_log_lines_follow_the_option() -> None:
    lines = [
        "Hello World!",
        "Probe called. We are good to go.",
        "Connecting the frontend now.",
        "Other side says it is connected as well.",
    ]
    on = render(default_spec("mydevice"))
    off = render(Spec(name="mydevice", log_messages=False))
    for line in lines:
        assert line in on["frontend/mydevicefront.c"]
        assert line not in off["frontend/mydevicefront.c"]
    for line in ["Hello World!", "Probe called.", "Connecting the backend now."]:
        assert line in on["backend/mydeviceback.c"]
    assert "Disconnecting the backend now." in on["backend/mydeviceback.c"]


def test_bug_policy_is_the_only_way_to_get_bug() -> None:
    warn = render(Spec(name="dev"))["backend/devback.c"]
    bug = render(Spec(name="dev", on_invalid_state="bug"))["backend/devback.c"]
    assert "BUG()" not in warn and "xenbus_dev_fatal(dev, -EINVAL" in warn
    assert "BUG();" in bug


def test_c_follows_kernel_style() -> None:
    for path, text in render(default_spec("a" * 31)).items():
        if not path.endswith(".c"):
            continue
        assert text.startswith("// SPDX-License-Identifier: GPL-2.0-only\n")
        for number, line in enumerate(text.splitlines(), 1):
            assert len(line.expandtabs(8)) <= 100, f"{path}:{number} too long"
            assert not re.match(r"^ +[^*\s]", line), f"{path}:{number} indented with spaces"
            assert line == line.rstrip(), f"{path}:{number} trailing whitespace"
        assert "fallthrough;" in text


def test_backend_ids_and_aliases_use_the_name() -> None:
    files = render(default_spec("pvfoo"))
    assert 'MODULE_ALIAS("xen-backend:pvfoo");' in files["backend/pvfooback.c"]
    assert 'MODULE_ALIAS("xen:pvfoo");' in files["frontend/pvfoofront.c"]
    assert "obj-m += pvfooback.o" in files["backend/Kbuild"]
    assert "type=pvfoo" in files["activate.sh"]


def test_license_maps_to_module_license() -> None:
    text = render(Spec(name="d", license="GPL-2.0-only OR MIT"))["frontend/dfront.c"]
    assert text.startswith("// SPDX-License-Identifier: GPL-2.0-only OR MIT")
    assert 'MODULE_LICENSE("Dual MIT/GPL");' in text


def test_backend_domid_reaches_the_scripts() -> None:
    files = render(Spec(name="d", backend_domid=7, devid=3))
    assert "backend_domid=7" in files["activate.sh"]
    assert "devid=${2:-3}" in files["deactivate.sh"]


@pytest.mark.parametrize(
    ("head", "params", "expected"),
    [
        ("static int f", ["int a", "int b"], "static int f(int a, int b)"),
        (
            "static void " + "x" * 50,
            ["struct xenbus_device *dev", "enum xenbus_state state"],
            "static void "
            + "x" * 50
            + "(struct xenbus_device *dev,\n"
            + "\t" * 7
            + " " * 7
            + "enum xenbus_state state)",
        ),
    ],
)
def test_c_proto_wraps_and_aligns_to_the_paren(head: str, params: list[str], expected: str) -> None:
    assert c_proto(head, params) == expected
