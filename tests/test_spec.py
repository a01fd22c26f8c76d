"""Malformed specs: one clear located line naming the key, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import spec_text
from typer.testing import CliRunner

from xbgen.cli import app
from xbgen.errors import SpecError
from xbgen.spec import (
    LICENSES,
    STARTER_RING,
    Message,
    Spec,
    default_spec,
    parse_spec,
    ring_slots,
)

OK = {"name": "mydevice"}

#: A ring spec whose last table is [ring.buffer] (line 6), keys from line 7.
BUFFER_SPEC = b'name = "x"\n[ring]\n[ring.request]\nop = "u32"\n\n[ring.buffer]\n'

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
    "unknown table": (b'name = "x"\n[rings]\norder = 1\n', "rings", 2),
    "unknown ring key": (b'name = "x"\n[ring]\norder = 1\n', "ring.order", 3),
    "ring pages 3": (b'name = "x"\n[ring]\npages = 3\n', "ring.pages", 3),
    "ring pages 32": (b'name = "x"\n[ring]\npages = 32\n', "ring.pages", 3),
    "ring pages string": (b'name = "x"\n[ring]\npages = "1"\n', "ring.pages", 3),
    "ring selftest string": (b'name = "x"\n[ring]\nselftest = "yes"\n', "ring.selftest", 3),
    "field unknown type": (
        b'name = "x"\n[ring.request]\nop = "u32"\nvalue = "u128"\n',
        "ring.request.value",
        4,
    ),
    "field type int": (b'name = "x"\n[ring.request]\nop = "int"\n', "ring.request.op", 3),
    "field type float": (b'name = "x"\n[ring.response]\nv = "f32"\n', "ring.response.v", 3),
    "field type not a string": (b'name = "x"\n[ring.request]\nop = 4\n', "ring.request.op", 3),
    "field array zero": (b'name = "x"\n[ring.request]\nd = "u8[0]"\n', "ring.request.d", 3),
    "field array negative": (b'name = "x"\n[ring.request]\nd = "u8[-1]"\n', "ring.request.d", 3),
    "field array of array": (b'name = "x"\n[ring.request]\nd = "u8[2][2]"\n', "ring.request.d", 3),
    "field reserved id": (
        b'name = "x"\n[ring]\n[ring.request]\nop = "u32"\nid = "u64"\n',
        "ring.request.id",
        5,
    ),
    "field reserved id in response": (
        b'name = "x"\n[ring.response]\nid = "u32"\n',
        "ring.response.id",
        3,
    ),
    "field C keyword": (b'name = "x"\n[ring.request]\nint = "u8"\n', "ring.request.int", 3),
    "field C keyword struct": (
        b'name = "x"\n[ring.response]\nstruct = "u8"\n',
        "ring.response.struct",
        3,
    ),
    "field upper case": (b'name = "x"\n[ring.request]\nOp = "u8"\n', "ring.request.Op", 3),
    "field leading underscore": (
        b'name = "x"\n[ring.request]\n_pad0 = "u8"\n',
        "ring.request._pad0",
        3,
    ),
    "field duplicate": (b'name = "x"\n[ring.request]\nop = "u8"\nop = "u16"\n', None, 4),
    "message too big for the ring": (
        b'name = "x"\n[ring]\npages = 1\n[ring.response]\nblob = "u8[2000]"\n',
        "ring",
        2,
    ),
    "message too big for 16 pages": (
        b'name = "x"\n[ring]\npages = 16\n[ring.request]\nblob = "u64[4096]"\n',
        "ring",
        2,
    ),
    "feature without ring": (b'name = "x"\n[[feature]]\nname = "a"\n', "feature", 2),
    "feature bad name": (
        b'name = "x"\n[ring]\n[[feature]]\nname = "a"\n[[feature]]\nname = "b-c"\n',
        "feature.1.name",
        6,
    ),
    "feature twice": (
        b'name = "x"\n[ring]\n[[feature]]\nname = "a"\n[[feature]]\nname = "a"\n',
        "feature",
        3,
    ),
    "feature unknown key": (
        b'name = "x"\n[ring]\n[[feature]]\nname = "a"\ndefualt = true\n',
        "feature.0.defualt",
        5,
    ),
    "feature default string": (
        b'name = "x"\n[ring]\n[[feature]]\nname = "a"\ndefault = "yes"\n',
        "feature.0.default",
        5,
    ),
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
    "author control character": (b'name = "x"\nauthor = "a\\u0007b"\n', "author", 2),
    "author comment end": (spec_text(name="x", author="Jürgen */ <j@x>").encode(), "author", 2),
    "author quote": (b'name = "x"\nauthor = "J\\"x"\n', "author", 2),
    "description non-ascii": (spec_text(name="x", description="Gerät").encode(), "description", 2),
    "author backslash": (b'name = "x"\nauthor = "a\\\\b"\n', "author", 2),
    "author date": (b'name = "x"\nauthor = 1979-05-27\n', "author", 2),
    "version float": (b'name = "x"\nversion = 1.0\n', "version", 2),
    "version integer": (b'name = "x"\nversion = 1\n', "version", 2),
    "version empty": (spec_text(name="x", version="").encode(), "version", 2),
    "version starts with a letter": (spec_text(name="x", version="v1.0").encode(), "version", 2),
    "version with a revision": (spec_text(name="x", version="1.0-1").encode(), "version", 2),
    "version with an epoch": (spec_text(name="x", version="1:1.0").encode(), "version", 2),
    "version with underscore": (spec_text(name="x", version="1_0").encode(), "version", 2),
    "version with space": (spec_text(name="x", version="1.0 beta").encode(), "version", 2),
    "version with slash": (spec_text(name="x", version="1/../../etc").encode(), "version", 2),
    "version non-ascii": (spec_text(name="x", version="1.0é").encode(), "version", 2),
    "version too long": (spec_text(name="x", version="1" * 65).encode(), "version", 2),
    "scripts unknown": (spec_text(name="x", scripts="bin").encode(), "scripts", 2),
    "scripts upper case": (spec_text(name="x", scripts="SBIN").encode(), "scripts", 2),
    "scripts path": (spec_text(name="x", scripts="/usr/local/sbin").encode(), "scripts", 2),
    "scripts boolean": (b'name = "x"\nscripts = true\n', "scripts", 2),
    "buffer too large": (BUFFER_SPEC + b'max = "8MiB"\n', "ring.buffer.max", 7),
    "buffer too small": (BUFFER_SPEC + b"max = 512\n", "ring.buffer.max", 7),
    "buffer size unit": (BUFFER_SPEC + b'max = "64 kb"\n', "ring.buffer.max", 7),
    "buffer size float": (BUFFER_SPEC + b"max = 6.5\n", "ring.buffer.max", 7),
    "buffer without max": (BUFFER_SPEC + b'direction = "both"\n', "ring.buffer.max", 6),
    "buffer direction": (
        BUFFER_SPEC + b'max = "64KiB"\ndirection = "up"\n',
        "ring.buffer.direction",
        8,
    ),
    "buffer transfer unknown": (
        BUFFER_SPEC + b'max = "64KiB"\ntransfer = "dma"\n',
        "ring.buffer.transfer",
        8,
    ),
    "buffer map too large": (
        BUFFER_SPEC + b'max = "512KiB"\ntransfer = "map"\n',
        "ring.buffer",
        6,
    ),
    "buffer both ways sent again": (
        b'name = "x"\n[ring]\non_resume = "reissue"\n[ring.buffer]\nmax = 4096\n',
        "ring",
        2,
    ),
    "buffer unknown key": (BUFFER_SPEC + b'max = "64KiB"\nsegments = 4\n', "segments", 8),
    "buffer field name taken": (
        b'name = "x"\n[ring]\n[ring.request]\nbuf_len = "u32"\n[ring.buffer]\nmax = 4096\n',
        "buf_len",
        2,
    ),
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
    assert spec == default_spec("mydevice", ring=False)
    assert spec.ring is None and spec.feature == []
    assert (spec.backend_domid, spec.devid) == (0, 0)
    assert spec.log_messages is True
    assert spec.on_invalid_state == "warn"
    assert spec.module_license == "GPL"
    assert (spec.version, spec.scripts) == ("0.1.0", "none")


@pytest.mark.parametrize("version", ["0", "0.1.0", "1.0~rc1", "2.0+git20240101.abc", "10a"])
def test_debian_upstream_versions_are_accepted(version: str) -> None:
    assert parse_spec(spec_text(name="x", version=version).encode()).version == version


def test_version_errors_say_why() -> None:
    with pytest.raises(SpecError, match="revision"):
        parse_spec(spec_text(name="x", version="1.0-2").encode())
    with pytest.raises(SpecError, match="epoch"):
        parse_spec(spec_text(name="x", version="2:1.0").encode())
    with pytest.raises(SpecError, match="'none', 'sbin', 'libexec'"):
        parse_spec(spec_text(name="x", scripts="bin").encode())


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


# --------------------------------------------------------------------------- rings


def test_starter_spec_has_the_issue_ring() -> None:
    ring = default_spec("mydevice").ring
    assert ring is not None
    assert (ring.pages, ring.selftest) == (1, True)
    assert ring.request == {"op": "u32", "value": "u64", "data": "u8[16]"}
    assert ring.response == {"status": "s32", "value": "u64", "data": "u8[16]"}
    assert ring.echoed == ("value", "data")


@pytest.mark.parametrize("name", ["mydevice", "vif", "a" * 31])
def test_starter_spec_is_what_full_validation_makes_of_it(name: str) -> None:
    # default_spec() checks only the name and builds the rest unvalidated.
    assert default_spec(name) == Spec.model_validate({"name": name, "ring": STARTER_RING})
    assert default_spec(name, ring=False) == Spec.model_validate({"name": name})
    ring = default_spec(name).ring
    assert ring is not None and ring.request is not STARTER_RING["request"]


@pytest.mark.parametrize("name", ["int", "My-Dev", "", "a" * 40, "9pfs"])
def test_starter_spec_refuses_a_bad_name_as_validation_does(name: str) -> None:
    with pytest.raises(SpecError) as fast:
        default_spec(name)
    with pytest.raises(SpecError) as full:
        parse_spec(f'name = "{name}"\n'.encode(), "NAME")
    assert fast.value.message.partition(": ")[2] == full.value.message.partition("name: ")[2]


def test_layout_pads_every_field_to_its_size_and_the_message_to_8() -> None:
    msg = Message.layout({"a": "u8", "b": "u64", "c": "u16[3]", "d": "s32", "e": "u8"})
    got = [(f.name, f.offset, f.size, f.pad) for f in msg.fields]
    assert got == [
        ("id", 0, 8, False),
        ("a", 8, 1, False),
        ("_pad0", 9, 7, True),
        ("b", 16, 8, False),
        ("c", 24, 6, False),
        ("_pad1", 30, 2, True),
        ("d", 32, 4, False),
        ("e", 36, 1, False),
        ("_pad2", 37, 3, True),
    ]
    assert msg.size == 40


@pytest.mark.parametrize(
    ("pages", "entry", "slots"),
    [(1, 40, 64), (1, 8, 256), (1, 1008, 4), (16, 40, 1024), (2, 48, 128), (1, 2008, 2)],
)
def test_ring_slots_match_const_ring_size(pages: int, entry: int, slots: int) -> None:
    assert ring_slots(pages, entry) == slots


def test_the_layout_is_what_gcc_makes_of_it_on_32_and_64_bit(tmp_path: Path) -> None:
    """The offsets xbgen writes into static_asserts hold for i386 and x86_64 alike."""
    import shutil
    import subprocess

    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is needed to check the message layout")
    fields = {"a": "u8", "b": "u64", "c": "s16[3]", "d": "u32", "e": "s64", "f": "u8[5]"}
    msg = Message.layout(fields)
    c_types = {"u8": "unsigned char", "u16": "unsigned short", "u32": "unsigned int",
               "u64": "unsigned long long", "s8": "signed char", "s16": "short",
               "s32": "int", "s64": "long long"}  # fmt: skip
    members = "".join(
        f"  {c_types[f.base]} {f.name}{f'[{f.count}]' if f.count else ''};\n" for f in msg.fields
    )
    asserts = "".join(
        f'_Static_assert(__builtin_offsetof(struct m, {f.name}) == {f.offset}, "{f.name}");\n'
        for f in msg.fields
    )
    src = tmp_path / "layout.c"
    src.write_text(
        f"struct m {{\n{members}}};\n{asserts}"
        f'_Static_assert(sizeof(struct m) == {msg.size}, "size");\n'
        "union e { struct m a; struct m b; };\n"
        f'_Static_assert(sizeof(union e) == {msg.size}, "union");\n'
    )
    for bits in ("-m64", "-m32"):
        result = subprocess.run(
            [gcc, bits, "-fsyntax-only", str(src)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{bits}: {result.stderr}"
    # Without the explicit padding i386 would put b at 12, not 16: the check bites.
    plain = tmp_path / "plain.c"
    plain.write_text(
        "struct m { unsigned long long id; unsigned int a; unsigned long long b; };\n"
        '_Static_assert(sizeof(struct m) == 24, "size");\n'
    )
    m32 = subprocess.run([gcc, "-m32", "-fsyntax-only", str(plain)], capture_output=True)
    assert m32.returncode != 0


def test_features_have_xenstore_keys() -> None:
    spec = parse_spec(
        b'name = "x"\n[ring]\n[[feature]]\nname = "fast_path"\ndefault = true\n'
        b'[[feature]]\nname = "flush"\n'
    )
    assert [(f.key, f.default) for f in spec.feature] == [
        ("feature-fast-path", True),
        ("feature-flush", False),
    ]


def test_a_ring_with_no_fields_is_just_ids() -> None:
    ring = parse_spec(b'name = "x"\n[ring]\npages = 16\n').ring
    assert ring is not None
    assert ring.request_message.size == 8 and ring.slots == 8192 // 2


@pytest.mark.parametrize("author", ["Jürgen Groß <jgross@suse.com>", "Roger Pau Monné <r@x>"])
def test_utf8_authors_reach_module_author(author: str, tmp_path: Path) -> None:
    from xbgen.generate import generate
    from xbgen.render import render_spec_file

    spec = Spec(name="x", author=author)
    assert parse_spec(render_spec_file(spec).encode()) == spec
    tree = generate(spec, out=tmp_path).tree
    text = (tree / "frontend" / "xfront.c").read_text(encoding="utf-8")
    assert f'MODULE_AUTHOR("{author}");' in text


def test_buffer_layout_inline_then_indirect() -> None:
    """Up to 64KiB the segments sit in the request; beyond, indirect pages."""

    def ring(max_: str) -> Any:
        spec = Spec.model_validate({"name": "x", "ring": {**STARTER_RING, "buffer": {"max": max_}}})
        assert spec.ring is not None and spec.ring.buffer is not None
        return spec.ring

    small, edge, big = ring("4KiB"), ring("64KiB"), ring("4MiB")
    assert (small.buffer.segments, small.buffer.indirect) == (1, False)
    assert (edge.buffer.segments, edge.buffer.indirect) == (16, False)
    assert (big.buffer.segments, big.buffer.indirect_pages) == (1024, 2)
    base = Spec.model_validate({"name": "x", "ring": STARTER_RING}).ring
    assert base is not None
    # length, count, padding; then 8 bytes a segment or 4 an indirect page
    assert edge.request_size == base.request_size + 8 + 16 * 8
    assert big.request_size == base.request_size + 8 + 2 * 4
    assert edge.response_size == base.response_size + 8
    assert edge.request_size % 8 == 0 and big.request_size % 8 == 0
    assert edge.slots == 16 and big.slots >= base.slots // 2
