"""Malformed specs: one clear located line naming the key, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import spec_text
from typer.testing import CliRunner

from xbgen.cli import app
from xbgen.errors import SpecError
from xbgen.spec import LICENSES, Spec, default_spec, parse_spec

OK = {"name": "mydevice"}

# id -> (spec bytes, the key the message must name or None, the TOML line or None)
BAD: dict[str, tuple[bytes, str | None, int | None]] = {
    "empty file": (b"", None, None),
    "only whitespace": (b"  \n\t\n", None, None),
    "only a comment": (b"# nothing\n", "name", None),
    "invalid toml": (b'name = "x\n', None, 1),
    "invalid toml line 3": (b'name = "x"\n\nauthor = = 1\n', None, 3),
    "duplicate key": (b'name = "a"\nname = "b"\n', None, 2),
    "binary garbage": (bytes(range(256)) * 4, None, None),
    "nul bytes": (b'name = "a"\x00\n', None, None),
    "latin-1 bytes": (b'name = "caf\xe9"\n', None, None),
    "missing name": (spec_text(author="A <a@b>").encode(), "name", None),
    "unknown key": (spec_text(name="x", colour="red").encode(), "colour", 2),
    "misspelt key": (spec_text(name="x", licence="GPL").encode(), "licence", 2),
    "unknown table": (b'name = "x"\n[ring]\norder = 1\n', "ring", 2),
    "name is integer": (b"name = 5\n", "name", 1),
    "name is array": (b'name = ["a"]\n', "name", 1),
    "name is table": (b"[name]\nx = 1\n", "name", 1),
    "name empty": (spec_text(name="").encode(), "name", 1),
    "name upper case": (spec_text(name="MyDevice").encode(), "name", 1),
    "name starts with digit": (spec_text(name="9pfsx").encode(), "name", 1),
    "name with dash": (spec_text(name="my-device").encode(), "name", 1),
    "name with space": (spec_text(name="my device").encode(), "name", 1),
    "name C keyword": (spec_text(name="switch").encode(), "name", 1),
    "name C keyword int": (spec_text(name="int").encode(), "name", 1),
    "name too long": (spec_text(name="a" * 32).encode(), "name", 1),
    "name very long": (spec_text(name="a" * 100_000).encode(), "name", 1),
    "name non-ascii": (spec_text(name="gerät").encode(), "name", 1),
    "name shell injection": (spec_text(name="x;rm -rf /").encode(), "name", 1),
    "license proprietary": (spec_text(name="x", license="Proprietary").encode(), "license", 2),
    "license MIT": (spec_text(name="x", license="MIT").encode(), "license", 2),
    "license unknown GPL": (spec_text(name="x", license="GPL-3.0-only").encode(), "license", 2),
    "license integer": (b'name = "x"\nlicense = 2\n', "license", 2),
    "domid negative": (spec_text(name="x", backend_domid=-1).encode(), "backend_domid", 2),
    "domid too big": (spec_text(name="x", backend_domid=70000).encode(), "backend_domid", 2),
    "domid string": (spec_text(name="x", backend_domid="0").encode(), "backend_domid", 2),
    "domid boolean": (b'name = "x"\nbackend_domid = true\n', "backend_domid", 2),
    "domid float": (b'name = "x"\nbackend_domid = 0.5\n', "backend_domid", 2),
    "devid huge": (b'name = "x"\ndevid = 99999999999999999\n', "devid", 2),
    "log_messages string": (spec_text(name="x", log_messages="yes").encode(), "log_messages", 2),
    "policy unknown": (
        spec_text(name="x", on_invalid_state="panic").encode(),
        "on_invalid_state",
        2,
    ),
    "policy upper case": (
        spec_text(name="x", on_invalid_state="WARN").encode(),
        "on_invalid_state",
        2,
    ),
    "description empty": (spec_text(name="x", description="").encode(), "description", 2),
    "description quote": (spec_text(name="x", description='a "b"').encode(), "description", 2),
    "description comment end": (
        spec_text(name="x", description="a */ b").encode(),
        "description",
        2,
    ),
    "description newline": (b'name = "x"\ndescription = "a\\nb"\n', "description", 2),
    "description very long": (
        spec_text(name="x", description="d" * 5000).encode(),
        "description",
        2,
    ),
    "author non-ascii": (spec_text(name="x", author="Jürgen <j@x>").encode(), "author", 2),
    "author backslash": (b'name = "x"\nauthor = "a\\\\b"\n', "author", 2),
    "author date": (b'name = "x"\nauthor = 1979-05-27\n', "author", 2),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_spec_is_one_located_line_exit_2_nothing_written(
    case: str, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, key, line = BAD[case]
    spec = tmp_path / "bad.toml"
    spec.write_bytes(raw)
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["render", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert not out.exists()
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.startswith("error:")
    assert len(message.splitlines()) == 1, message
    assert str(spec) in message
    if key is not None:
        assert key in message
    if line is not None:
        assert f"line {line}" in message or f"{spec}:{line}:" in message, message
    assert len(message) < 700


def test_there_are_at_least_thirty_malformed_specs() -> None:
    assert len(BAD) >= 30


def test_defaults() -> None:
    spec = parse_spec(b'name = "mydevice"\n')
    assert spec == default_spec("mydevice")
    assert (spec.backend_domid, spec.devid) == (0, 0)
    assert spec.log_messages is True
    assert spec.on_invalid_state == "warn"
    assert spec.module_license == "GPL"


@pytest.mark.parametrize("license", sorted(LICENSES))
def test_every_gpl_compatible_license_is_accepted(license: str) -> None:
    assert Spec(name="x", license=license).license == license


def test_module_license_spellings_are_accepted_as_aliases() -> None:
    assert Spec(name="x", license="GPL").license == "GPL-2.0-only"
    assert Spec(name="x", license="Dual MIT/GPL").module_license == "Dual MIT/GPL"


def test_non_gpl_license_says_why() -> None:
    with pytest.raises(SpecError, match="GPL-only"):
        parse_spec(b'name = "x"\nlicense = "MIT"\n')


@pytest.mark.parametrize("name", ["vif", "vbd", "console", "pvcalls", "9pfs"])
def test_linux_device_types_warn(name: str) -> None:
    if not name[0].isalpha():
        with pytest.raises(SpecError):
            parse_spec(spec_text(name=name).encode())
        return
    assert any(name in w for w in Spec(name=name).warnings())


def test_fresh_name_does_not_warn() -> None:
    assert Spec(name="mydevice").warnings() == []
