"""Rendering: golden output, determinism, option coverage, layout helpers."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import all_option_specs
from golden.regen import CASES, GOLDEN, REGEN, write_case

from xbgen.check import check_files
from xbgen.output import read_manifest
from xbgen.render import (
    OUTPUTS,
    RING_OUTPUTS,
    USER_OUTPUTS,
    c_proto,
    render,
    render_spec_file,
    render_user,
    wrap,
)
from xbgen.spec import RING_NAME_FITS, Spec, default_spec, load_spec, parse_spec
from xbgen.specbase import starter


def _snapshot(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file under `root`: its bytes and whether it is executable (as git keeps them)."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), bool(p.stat().st_mode & 0o111))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", list(CASES))
def test_golden_tree_is_reproduced_byte_for_byte(case: str, tmp_path: Path) -> None:
    # The default case is what `xbgen new mydevice` writes (spec and tree);
    # the others what `xbgen render` writes for their spec.
    write_case(case, tmp_path)
    fresh, golden = _snapshot(tmp_path), _snapshot(GOLDEN / case)
    differ = sorted(
        rel for rel in fresh.keys() | golden.keys() if fresh.get(rel) != golden.get(rel)
    )
    assert not differ, (
        f"tests/golden/{case}/ is not what xbgen writes now ({', '.join(differ)}): "
        f"regenerate the goldens with `{REGEN}` and review `git diff tests/golden`"
    )


@pytest.mark.parametrize("ring", [True, False])
@pytest.mark.parametrize("name", ["mydevice", "vif", "a" * 31])
def test_new_renders_its_plain_starter_as_the_validated_model(name: str, ring: bool) -> None:
    # `xbgen new` renders specbase.starter() without pydantic; the golden
    # tree and every other test render the model default_spec() returns.
    plain, model = starter(name, ring), default_spec(name, ring)
    assert render(plain) == render(model)
    assert render_user(plain) == render_user(model)
    assert render_spec_file(plain) == render_spec_file(model)
    assert plain.warnings() == model.warnings()
    assert parse_spec(render_spec_file(plain).encode()) == model


def test_golden_cases_cover_the_variants() -> None:
    specs = {case: load_spec(GOLDEN / case / "mydevice.toml") for case in CASES}
    assert specs["default"] == default_spec("mydevice")
    assert specs["handshake"] == default_spec("mydevice", ring=False)
    multipage = specs["multipage"]
    assert multipage.ring is not None and multipage.ring.pages > 1 and len(multipage.feature) > 1
    assert specs["driver-domain"].backend_domid != 0


@pytest.mark.parametrize("case", list(CASES))
def test_golden_scripts_are_executable(case: str) -> None:
    for script in ("activate.sh", "deactivate.sh"):
        assert (GOLDEN / case / "mydevice" / script).stat().st_mode & 0o111


def test_rendering_is_deterministic() -> None:
    spec = default_spec("mydevice")
    assert render(spec) == render(spec)
    assert render_spec_file(spec) == render_spec_file(spec)


def test_starter_spec_round_trips_and_comments_every_key() -> None:
    spec = default_spec("netdev2")
    text = render_spec_file(spec)
    assert parse_spec(text.encode()) == spec
    lines = text.splitlines()
    ring_keys = [f"{key} =" for key in ("pages", "selftest")]
    tables = ["[ring]", "[ring.request]", "[ring.response]"]
    for key in [f"{k} =" for k in Spec.model_fields if k not in ("ring", "feature")]:
        index = next(i for i, line in enumerate(lines) if line.startswith(key))
        assert lines[index - 1].startswith("#"), f"{key} has no comment above it"
    for key in ring_keys + tables:
        index = next(i for i, line in enumerate(lines) if line.startswith(key))
        assert lines[index - 1].startswith("#"), f"{key} has no comment above it"
    assert "# [[feature]]" in text  # shown, commented out


def test_starter_spec_with_features_round_trips() -> None:
    spec = Spec.model_validate(
        {
            "name": "x",
            "ring": {"pages": 4, "selftest": False, "request": {"a": "u16[3]"}},
            "feature": [{"name": "flush", "default": True}],
        }
    )
    assert parse_spec(render_spec_file(spec).encode()) == spec

    handshake = default_spec("x", ring=False)
    assert parse_spec(render_spec_file(handshake).encode()) == handshake

    packaged = handshake.model_copy(update={"version": "2.0~rc1+git", "scripts": "libexec"})
    assert parse_spec(render_spec_file(packaged).encode()) == packaged


@pytest.mark.parametrize("ring", [True, False])
def test_dkms_conf_builds_both_modules_from_the_tree(ring: bool, tmp_path: Path) -> None:
    """What DKMS reads from dkms.conf once bash has sourced it, as DKMS does."""
    spec = default_spec("mydevice", ring=ring).model_copy(update={"version": "1.2+x"})
    conf = tmp_path / "dkms.conf"
    conf.write_text(render(spec)["dkms.conf"])
    show = (
        'kernel_source_dir=/lib/modules/K/build; . "$1"; '
        'printf "%s\\n" "$PACKAGE_NAME" "$PACKAGE_VERSION" "${MAKE[0]}" "$CLEAN" "$AUTOINSTALL" '
        '"${BUILT_MODULE_NAME[@]}" "${BUILT_MODULE_LOCATION[@]}" "${DEST_MODULE_LOCATION[@]}"'
    )
    proc = subprocess.run(
        ["bash", "-euc", show, "bash", str(conf)], capture_output=True, text=True, check=True
    )
    assert proc.stdout.splitlines() == [
        "mydevice", "1.2+x",
        "make KDIR=/lib/modules/K/build modules", "make KDIR=/lib/modules/K/build clean", "yes",
        "mydevicefront", "mydeviceback", "frontend/", "backend/", "/updates/dkms", "/updates/dkms",
    ]  # fmt: skip
    # The top Makefile builds both folders with the KDIR DKMS passes.
    makefile = render(spec)["Makefile"]
    assert "$(MAKE) -C frontend $@" in makefile and "$(MAKE) -C backend $@" in makefile


@pytest.mark.parametrize(
    "spec",
    all_option_specs(),
    ids=lambda s: f"{s.log_messages}-{s.on_invalid_state}-{s.license}-{s.backend_domid}",
)
def test_every_option_combination_passes_the_check(spec: Spec) -> None:
    files = render(spec)
    assert len(files) == len(OUTPUTS)
    assert check_files(files) == []
    ring = render(spec.model_copy(update={"ring": default_spec("mydevice").ring}))
    assert len(ring) == len(RING_OUTPUTS)
    assert check_files({**ring, **render_user(default_spec("mydevice"))}) == []


def test_seed_log_lines_follow_the_option() -> None:
    lines = [
        "Hello World!",
        "Probe called. We are good to go.",
        "Connecting the frontend now.",
        "Other side says it is connected as well.",
    ]
    for ring in (True, False):
        front, back = ("_core.c", "_core.c") if ring else (".c", ".c")
        spec = default_spec("mydevice", ring=ring)
        on = render(spec)
        off = render(spec.model_copy(update={"log_messages": False}))
        for line in lines:
            assert line in on[f"frontend/mydevicefront{front}"]
            assert line not in off[f"frontend/mydevicefront{front}"]
        for line in ["Hello World!", "Probe called.", "Connecting the backend now."]:
            assert line in on[f"backend/mydeviceback{back}"]
        assert "Disconnecting the backend now." in on[f"backend/mydeviceback{back}"]


def test_bug_policy_is_the_only_way_to_get_bug() -> None:
    warn = render(Spec(name="dev"))["backend/devback.c"]
    bug = render(Spec(name="dev", on_invalid_state="bug"))["backend/devback.c"]
    assert "BUG()" not in warn and "xenbus_dev_fatal(dev, -EINVAL" in warn
    assert "BUG();" in bug


def test_c_follows_kernel_style() -> None:
    ring = Spec.model_validate(
        {
            "name": "a" * RING_NAME_FITS,
            "ring": {"pages": 16, "request": {"a" * 31: "u8[4096]"}, "response": {"b": "u64"}},
            "feature": [{"name": "f" * 20}],
        }
    )
    assert ring.warnings() == []
    assert "100 columns" in ring.model_copy(update={"name": "a" * 21}).warnings()[0]
    files = {**render(ring), **render_user(ring), **render(default_spec("a" * 31, ring=False))}
    for path, text in files.items():
        if not path.endswith(".c"):
            continue
        assert text.startswith("// SPDX-License-Identifier: GPL-2.0-only\n")
        for number, line in enumerate(text.splitlines(), 1):
            assert len(line.expandtabs(8)) <= 100, f"{path}:{number} too long"
            assert not re.match(r"^ +[^*\s]", line), f"{path}:{number} indented with spaces"
            assert line == line.rstrip(), f"{path}:{number} trailing whitespace"
        assert "fallthrough;" in text or path.endswith("_user.c")


def test_backend_ids_and_aliases_use_the_name() -> None:
    files = render(default_spec("pvfoo"))
    assert 'MODULE_ALIAS("xen-backend:pvfoo");' in files["backend/pvfooback_core.c"]
    assert 'MODULE_ALIAS("xen:pvfoo");' in files["frontend/pvfoofront_core.c"]
    assert "obj-m += pvfooback.o" in files["backend/Kbuild"]
    assert "pvfooback-y := pvfooback_core.o pvfooback_user.o" in files["backend/Kbuild"]
    assert "type=pvfoo" in files["activate.sh"]


def test_license_maps_to_module_license() -> None:
    text = render(Spec(name="d", license="GPL-2.0-only OR MIT"))["frontend/dfront.c"]
    assert text.startswith("// SPDX-License-Identifier: GPL-2.0-only OR MIT")
    assert 'MODULE_LICENSE("Dual MIT/GPL");' in text


def test_backend_domid_reaches_the_scripts() -> None:
    files = render(Spec(name="d", backend_domid=7, devid=3))
    for script in ("activate.sh", "deactivate.sh"):
        assert "backend_domid=${BACKEND_DOMID-7}" in files[script]
        assert "devid=${2:-3}" in files[script]


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


def test_wrap_keeps_a_quoted_command_on_one_line() -> None:
    text = (
        "Generated from "
        + "n" * 30
        + ".toml.  Do not edit: run `xbgen render "
        + "n" * 30
        + ".toml`."
    )
    lines = wrap(text, "# ", 40).splitlines()
    assert lines == [
        "# Generated from",
        "# " + "n" * 30 + ".toml.",
        "# Do not edit: run",
        "# `xbgen render " + "n" * 30 + ".toml`.",
    ]
    assert wrap("One.  Two.", " * ") == " * One.  Two."


def _prose(path: Path) -> str:
    """The text of `path` with comment markers and line breaks taken out."""
    lines = path.read_text().splitlines()
    return " ".join(re.sub(r"^(#|/?\*+/?|//)\s*", "", line.strip()) for line in lines)


@pytest.mark.parametrize("case", ["default", "handshake"])
def test_every_file_says_whose_it_is(case: str) -> None:
    tree = GOLDEN / case / "mydevice"
    owned = read_manifest(tree)
    assert owned
    for rel in owned:
        note = "Do not edit directly: edit the spec and run `xbgen render mydevice.toml`."
        assert note in _prose(tree / rel), rel
    for rel in USER_OUTPUTS.values():
        path = tree / rel.format(name="mydevice")
        if case == "default":
            assert "Yours to edit: xbgen wrote this file once and never overwrites it" in _prose(
                path
            )
        else:
            assert not path.exists()
