"""Arbitrary spec values never produce a traceback: a SpecError or a checked tree."""

from __future__ import annotations

import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xbgen.check import check_files
from xbgen.errors import SpecError
from xbgen.render import render
from xbgen.spec import Spec, parse_spec

KEYS = [*Spec.model_fields, "extra", "ring"]
scalars = (
    st.text(max_size=60)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.booleans()
    | st.floats(allow_nan=False)
    | st.from_regex(r"[a-z][a-z0-9_]{0,35}", fullmatch=True)
    | st.sampled_from(["warn", "bug", "GPL", "MIT", "GPL-2.0-only OR MIT"])
)
values = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.text(max_size=5), scalars, max_size=2)
)


def toml_dump(data: dict[str, object]) -> str:
    lines = []
    for key, value in data.items():
        lines.append(f"{toml_key(key)} = {toml_val(value)}")
    return "\n".join(lines) + "\n"


def toml_key(key: str) -> str:
    return '"' + key.encode("unicode_escape").decode().replace('"', '\\"') + '"'


def toml_val(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if not isinstance(value, float) or value == value else "nan"
    if isinstance(value, str):
        return toml_key(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_val(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_val(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_any_spec_values_give_spec_error_or_clean_tree(data: dict[str, object]) -> None:
    text = toml_dump(data)
    try:
        tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError):
        return
    try:
        spec = parse_spec(text.encode(), "fuzz.toml")
    except SpecError as exc:
        assert exc.exit_code == 2
        assert exc.message.startswith("fuzz.toml")
        return
    assert check_files(render(spec)) == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_spec_error_or_spec(raw: bytes) -> None:
    try:
        parse_spec(raw, "fuzz.toml")
    except SpecError as exc:
        assert "fuzz.toml" in exc.message
