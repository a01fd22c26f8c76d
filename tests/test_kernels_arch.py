"""Kernel trees per arch, without the network: tree.json, cache paths, make's
ARCH/CROSS_COMPILE, the compiler Debian's headers name (tests/test_kernels.py
and tests/test_build.py fetch and build the real ones)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xbgen import kernels
from xbgen.errors import FetchError


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "xbgen"


def _tree(**changes: object) -> kernels.KernelTree:
    fields = {
        "line": "6.1",
        "release": "bookworm",
        "abi": "6.1.0-57-arm64",
        "version": "6.1.192-3",
        "kdir": Path("/k"),
        "make_kdir": "/k",
        "arch": "arm64",
        **changes,
    }
    return kernels.KernelTree(**fields)  # type: ignore[arg-type]


def test_a_tree_json_written_before_arch_loads_as_amd64() -> None:
    old = {
        "line": "6.1",
        "release": "bookworm",
        "abi": "6.1.0-57-amd64",
        "version": "6.1.192-3",
        "kdir": "/k",
        "make_kdir": "/k",
        "chroot": None,
        "make_env": {},
    }
    tree = kernels.KernelTree.from_json(json.dumps(old))
    assert tree.arch == "amd64" and tree.make_args == [] and tree.skipped == ""
    again = kernels.KernelTree.from_json(tree.to_json())
    assert again == tree


def test_an_arm64_tree_round_trips_and_cross_compiles() -> None:
    tree = _tree(skipped="linux-headers-6.1.0-58-arm64")
    assert kernels.KernelTree.from_json(tree.to_json()) == tree
    assert tree.make_args == ["ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-"]
    assert _tree(arch="arm64-16k").make_args == tree.make_args


def test_amd64_trees_keep_their_cache_paths(cache: Path) -> None:
    assert kernels.line_dir("6.1") == cache / "kernels" / "6.1"
    assert kernels.line_dir("6.1", "amd64") == cache / "kernels" / "6.1"
    assert kernels.line_dir("6.1", "arm64") == cache / "kernels" / "6.1-arm64"
    assert kernels.line_dir("7.2", "arm64-16k") == cache / "kernels" / "7.2-arm64-16k"


def test_every_line_and_arch_is_listed(cache: Path) -> None:
    pairs = [(s.line, s.arch) for s in kernels.status()]
    assert pairs == [
        *[(line, "amd64") for line in kernels.LINES],
        *[(line, "arm64") for line in kernels.LINES],
        ("6.12", "arm64-16k"),
        ("7.2", "arm64-16k"),
    ]
    assert all(s.tree is None for s in kernels.status())
    assert kernels.wanted_lines(["all"], "arm64-16k") == ["6.12", "7.2"]
    assert kernels.wanted_lines([], "arm64") == list(kernels.LINES)


def test_no_headers_for_a_line_is_an_error_before_any_file(cache: Path) -> None:
    with pytest.raises(FetchError, match=r"kernel 6\.1 \(Debian bookworm\) has no arm64-16k"):
        kernels.fetch("6.1", arch="arm64-16k")
    with pytest.raises(FetchError, match=r"6\.12, 7\.2 only"):
        kernels.fetch_many(["6.12", "6.1"], arch="arm64-16k")
    assert not (cache / "kernels").exists()


# Debian's .kernelvariables (6.1) and headers Makefile (6.12 on): the compiler
# is $(CROSS_COMPILE)gcc-N; native builds leave CROSS_COMPILE empty.
KERNELVARIABLES = """override ARCH = arm64
override KERNELRELEASE = 6.1.0-57-arm64
CCACHE = ccache
CC = $(if $(DEBIAN_KERNEL_USE_CCACHE),$(CCACHE)) $(CROSS_COMPILE)gcc-12
"""


def test_the_compiler_comes_from_the_headers_with_the_trees_prefix(tmp_path: Path) -> None:
    (tmp_path / ".kernelvariables").write_text(KERNELVARIABLES)
    (tmp_path / "Makefile").write_text("include ../linux-headers-6.1.0-57-common/Makefile\n")
    assert kernels.compilers(tmp_path) == ["gcc-12"]
    assert kernels.compilers(tmp_path, "aarch64-linux-gnu-") == ["aarch64-linux-gnu-gcc-12"]
    assert kernels.compiler_package("aarch64-linux-gnu-gcc-12") == "gcc-12-aarch64-linux-gnu"
    assert kernels.compiler_package("gcc-14") == "gcc-14"
