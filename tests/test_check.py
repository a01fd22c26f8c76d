"""The check must pass clean output and fail planted mistakes at the right line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xbgen.check import check_c, check_files, check_markup, check_paths
from xbgen.render import render, render_user
from xbgen.spec import default_spec

FRONT = "frontend/mydevicefront_core.c"
BACK = "backend/mydeviceback_core.c"
RING_H = "include/mydevice_ring.h"
USER = "backend/mydeviceback_user.c"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    spec = default_spec("mydevice")
    return {**render(spec), **render_user(spec)}


@pytest.fixture(scope="module")
def handshake() -> dict[str, str]:
    return render(default_spec("mydevice", ring=False))


def line_of(text: str, needle: str) -> int:
    needle = needle.strip("\n")
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def plant(files: dict[str, str], path: str, old: str, new: str) -> tuple[dict[str, str], int]:
    assert files[path].count(old) >= 1, old
    line = line_of(files[path], old)
    changed = dict(files)
    changed[path] = files[path].replace(old, new, 1)
    return changed, line


# (file, original text, planted text, words the message must contain)
PLANTS = {
    "missing semicolon": (FRONT, "info->dev = dev;", "info->dev = dev", ["parse error"]),
    "misspelt function": (
        FRONT,
        "xenbus_switch_state(dev, XenbusStateConnected);",
        "xenbus_swich_state(dev, XenbusStateConnected);",
        ["undeclared function", "xenbus_swich_state"],
    ),
    "unknown member": (
        BACK,
        "while (dev->state != target)",
        "while (dev->sate != target)",
        ["no member", "sate", "xenbus_device"],
    ),
    "unknown initializer member": (
        FRONT,
        ".not_essential = true",
        ".not_esential = true",
        ["no member", "not_esential"],
    ),
    "undeclared identifier": (BACK, "be->dev = dev;", "be->dev = devv;", ["devv", "undeclared"]),
    "switch missing a state": (
        FRONT,
        "\tdefault:\n",
        "\tcase XenbusStateInitialising:\n\tcase XenbusStateInitialised:\n"
        "\tcase XenbusStateReconfiguring:\n\tcase XenbusStateUnknown:\n",
        ["switch", "XenbusStateReconfigured"],
    ),
    "missing fallthrough": (FRONT, "\t\tfallthrough;\n", "", ["falls through"]),
    "leftover jinja": (BACK, "Hello World!", "Hello {{ name }}!", ["template markup"]),
    "wrong remove return type": (
        FRONT,
        "static void mydevicefront_remove(",
        "static long mydevicefront_remove(",
        ["remove", "returns"],
    ),
    "misspelt ring member": (
        BACK,
        "conn->ring.req_cons = rc + 1;",
        "conn->ring.req_con = rc + 1;",
        ["no member", "req_con"],
    ),
    "misspelt message field in the user file": (
        USER,
        "rsp->value = req->value;",
        "rsp->value = req->valeu;",
        ["no member", "valeu", "mydevice_request"],
    ),
    "offsetof of a field the message lacks": (
        RING_H,
        "offsetof(struct mydevice_request, value)",
        "offsetof(struct mydevice_request, valeu)",
        ["no member", "valeu"],
    ),
    "misspelt grant call": (
        FRONT,
        "xenbus_setup_ring(",
        "xenbus_setup_rings(",
        ["undeclared function", "xenbus_setup_rings"],
    ),
}


@pytest.mark.parametrize("name", PLANTS)
def test_planted_mistake_is_reported_at_its_line(files: dict[str, str], name: str) -> None:
    path, old, new, words = PLANTS[name]
    changed, line = plant(files, path, old, new)
    problems = check_files(changed)
    assert problems, f"{name} was not detected"
    assert any(p.file == path for p in problems)
    hits = [p for p in problems if all(w in p.message for w in words)]
    assert hits, [str(p) for p in problems]
    if path == RING_H:
        return  # reported where the header is included; the message names the member
    if name == "switch missing a state":
        line = line_of(changed[path], "switch (backend_state)")
    elif name == "missing fallthrough":
        line = line_of(changed[path], "case XenbusStateClosing:")
    elif name == "wrong remove return type":
        line = line_of(changed[path], ".remove = mydevicefront_remove")
    assert hits[0].line == line, str(hits[0])


def test_clean_output_passes(files: dict[str, str], handshake: dict[str, str]) -> None:
    assert check_files(files) == []
    assert check_files(handshake) == []


def test_each_version_branch_is_checked(files: dict[str, str]) -> None:
    # Breaking only the pre-6.1.162 branch must still be caught.
    text = files[FRONT].replace("\treturn 0;\n}\n#endif", "\treturn zero;\n}\n#endif")
    assert text != files[FRONT]
    problems = check_files({**files, FRONT: text})
    assert any("'zero' undeclared" in p.message for p in problems)
    # and the pre-5.19 ring branch (alloc_pages_exact + xenbus_grant_ring)
    text = files[FRONT].replace("free_pages_exact(sring,", "free_pages_exact(ring,")
    assert text != files[FRONT]
    problems = check_files({**files, FRONT: text})
    assert any("'ring' undeclared" in p.message for p in problems)


def test_parse_error_without_line_names_file_and_token(files: dict[str, str]) -> None:
    text = files[FRONT].rstrip().removesuffix(";")
    problems = check_files({**files, FRONT: text})
    assert len(problems) == 1
    assert problems[0].file == FRONT
    assert "parse error" in problems[0].message
    assert "')'" in problems[0].message


def test_missing_header_is_a_located_error(files: dict[str, str]) -> None:
    text = files[FRONT].replace("<linux/slab.h>", "<linux/nonexistent.h>")
    problems = check_files({**files, FRONT: text})
    assert problems[0].line == line_of(text, "nonexistent")
    assert "nonexistent.h" in problems[0].message


def test_shell_length_syntax_is_not_jinja() -> None:
    assert check_markup('echo "${#var}"\n', "x.sh") == []
    assert check_markup("a {# b\n", "x.sh")[0].col == 3


def test_check_paths_walks_a_tree(tmp_path: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert check_paths([tmp_path]) == []
    (tmp_path / BACK).write_text(files[BACK].replace("kfree(conn);", "kfre(conn);", 1))
    problems = check_paths([tmp_path])
    assert [p.file for p in problems] == [str(tmp_path / BACK)]


def test_a_single_handshake_file_checks_alone(handshake: dict[str, str]) -> None:
    front = "frontend/mydevicefront.c"
    assert check_c(handshake[front], front) == []


def test_check_paths_skips_kbuild_products(tmp_path: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    # what `make` leaves behind: not xbgen's, and not checkable without the kernel
    (tmp_path / "frontend" / "mydevicefront.mod.c").write_text("#include <linux/build-salt.h>\n")
    (tmp_path / "frontend" / ".mydevicefront.o.cmd").write_text("cmd := gcc\n")
    assert check_paths([tmp_path]) == []


def test_the_check_needs_no_arch(files: dict[str, str], handshake: dict[str, str]) -> None:
    """`xbgen check` serves amd64 and arm64 alike: the emitted C tests nothing but the
    Kbuild's XBGEN_* features (read from include/xen, which is arch-independent) and
    its header guards; no page size, CONFIG_ or arch macro picks code, so the fake
    headers' one PAGE_SHIFT parses every line an arm64 (or 16 KiB page) build
    compiles.  tests/test_build.py proves the arm64 build's features are a set this
    check parses under."""
    from xbgen.spec import Spec

    base = default_spec("mydevice").ring
    assert base is not None
    buffers = [
        Spec.model_validate(
            {
                "name": "mydevice",
                "ring": {
                    **base.model_dump(),
                    "response": {**base.response, "sum": "u32"},
                    "buffer": {"max": size, "direction": "both", "transfer": transfer},
                },
            }
        )
        for size, transfer in (("4MiB", "copy"), ("256KiB", "map"))
    ]
    trees = [files, handshake, *(render(spec) for spec in buffers)]
    conditionals = {
        line.strip()
        for tree in trees
        for path, text in tree.items()
        if path.endswith((".c", ".h"))
        for line in text.splitlines()
        if line.lstrip().startswith(("#if", "#elif"))
    }
    allowed = re.compile(r"#ifdef XBGEN_[A-Z_]+|#ifndef [A-Z_]+_H")
    assert conditionals
    assert [c for c in conditionals if not allowed.fullmatch(c)] == []
