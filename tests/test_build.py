"""Generated drivers build with real make against Debian's 5.10, 6.1, 6.12 and 7.2 headers,
amd64 and (cross-built) arm64.

No mocks: kernel trees come from `xbgen.kernels.fetch` (Debian packages, cached
in the XDG cache), builds run the generated Makefiles, `modinfo` reads the
.ko files, sparse and checkpatch.pl are the real tools.
"""

from __future__ import annotations

import itertools
import re
import shutil
import time
import typing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import PHASE_TIMINGS

from xbgen import build, check, checkpatch, kernels
from xbgen.build import BuildFailedError, BuildResult, Diagnostic
from xbgen.generate import generate
from xbgen.spec import LICENSES, Spec, default_spec

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

LINES = list(kernels.LINES)
NAME = "xbtest"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def trees() -> dict[str, kernels.KernelTree]:
    started = time.monotonic()
    try:
        return _fetch_trees()
    finally:
        PHASE_TIMINGS.append(f"kernel trees fetched/verified in {time.monotonic() - started:.1f}s")


def _fetch_trees() -> dict[str, kernels.KernelTree]:
    """All four kernel lines, provisioned in parallel (cached across runs)."""
    return kernels.fetch_many(LINES)


@pytest.fixture(scope="session")
def default_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tree `xbgen new` writes for the default spec (with its ring)."""
    return generate(default_spec(NAME), out=tmp_path_factory.mktemp("default")).tree


#: The ring variants: pages 1 and 16, with and without features and self-test.
RING_FEATURES = [{"name": "flush", "default": False}, {"name": "fast_path", "default": True}]


def ring_variants() -> list[tuple[str, Spec]]:
    base = default_spec(NAME).ring
    assert base is not None
    variants = []
    for pages, features, selftest in itertools.product([1, 16], [[], RING_FEATURES], [True, False]):
        # the 16-page ring also sends calls in flight again after a resume
        on_resume = "reissue" if pages == 16 else "fail"
        ring = {**base.model_dump(), "pages": pages, "selftest": selftest, "on_resume": on_resume}
        label = f"ring:pages={pages},features={len(features)},selftest={selftest}"
        variants.append(
            (label, Spec.model_validate({"name": NAME, "ring": ring, "feature": features}))
        )
    # buffers: each direction at 64KiB (segments in the request), and 4MiB
    # (indirect pages) from the backend, sent again after a resume
    # (grant copy), then by persistent grants ("map"): both ways in the
    # request, and to the backend in an indirect page, sent again after a resume
    for direction, size, transfer in (
        ("to_backend", "64KiB", "copy"),
        ("both", "64KiB", "copy"),
        ("from_backend", "4MiB", "copy"),
        ("both", "64KiB", "map"),
        ("to_backend", "256KiB", "map"),
    ):
        on_resume = "reissue" if size in ("4MiB", "256KiB") else "fail"
        ring = {
            **base.model_dump(),
            "response": {**base.response, "sum": "u32"},
            "buffer": {"max": size, "direction": direction, "transfer": transfer},
            "on_resume": on_resume,
        }
        label = f"ring:buffer={direction},{size}" + (",map" if transfer == "map" else "")
        variants.append((label, Spec.model_validate({"name": NAME, "ring": ring})))
    quiet = {**base.model_dump(), "request": {"a": "s8", "b": "u16[3]", "c": "s64"}, "response": {}}
    variants.append(
        (
            "ring:odd-fields,log_messages=False,on_invalid_state=bug",
            Spec.model_validate(
                {"name": NAME, "ring": quiet, "log_messages": False, "on_invalid_state": "bug"}
            ),
        )
    )
    return variants


def _choices(name: str) -> list[object]:
    """Every value of a spec field with finitely many (bool, Literal) values."""
    if name == "license":
        # The C differs only in MODULE_LICENSE and the SPDX line: one per MODULE_LICENSE.
        by_module_license = {module: spdx for spdx, module in LICENSES.items()}
        return list(by_module_license.values())
    annotation = Spec.model_fields[name].annotation
    if annotation is bool:
        return [True, False]
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    return []


def spec_variants() -> list[tuple[str, Spec]]:
    """Every combination of the options that change the C (ids like
    ``log_messages=False,...``), each license once along the way (a license
    changes only MODULE_LICENSE and the SPDX line), then the ring variants."""
    fields = [
        name
        for name in Spec.model_fields
        if name not in ("name", "license", "scripts") and _choices(name)
    ]
    licenses = _choices("license")
    combos = list(itertools.product(*(_choices(name) for name in fields)))
    variants = []
    for index, values in enumerate(combos):
        options = dict(zip(fields, values, strict=True))
        options["license"] = licenses[index % len(licenses)]
        label = ",".join(f"{k}={v}" for k, v in options.items())
        variants.append((label, Spec(name=NAME, **options)))
    assert len(combos) >= len(licenses), "every license must be built once"
    return variants + ring_variants()


@pytest.fixture(scope="session")
def variant_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("variants")
    return {
        label: generate(spec, out=base / f"v{index}").tree
        for index, (label, spec) in enumerate(spec_variants())
    }


def _copy(tree: Path, dest: Path) -> Path:
    shutil.copytree(tree, dest)
    return dest


def _build(tree: Path, kernel: kernels.KernelTree, *args: str) -> BuildResult:
    return build.build_modules(tree, kernel, extra_make_args=["W=1", *args], clean=False)


def _show(result: BuildResult) -> str:
    return "\n".join([result.summary(), *map(str, result.errors + result.warnings)])


# --------------------------------------------------------------------------- W=1 builds


@pytest.mark.parametrize("line", LINES)
def test_default_spec_builds_without_warnings(
    line: str, trees: dict[str, kernels.KernelTree], default_tree: Path, tmp_path: Path
) -> None:
    result = _build(_copy(default_tree, tmp_path / NAME), trees[line])
    PHASE_TIMINGS.append(f"make W=1 default spec on {line}: {result.seconds:.1f}s")
    assert result.ok, _show(result)
    assert result.warnings == [], _show(result)
    assert [m.name for m in result.modules] == [f"{NAME}back.ko", f"{NAME}front.ko"]


@pytest.mark.parametrize("line", LINES)
def test_modinfo_of_built_modules(
    line: str, trees: dict[str, kernels.KernelTree], default_tree: Path, tmp_path: Path
) -> None:
    tree = _copy(default_tree, tmp_path / NAME)
    _build(tree, trees[line])
    expected = {"front": f"xen:{NAME}", "back": f"xen-backend:{NAME}"}
    for side, alias in expected.items():
        info = build.modinfo(tree / f"{side}end" / f"{NAME}{side}.ko")
        assert alias in info.get("alias", []), info
        assert info.get("license") == ["GPL"], info
        assert info.get("description", [""])[0].strip(), info
        assert "depends" in info, info
        assert info["vermagic"][0].startswith(trees[line].abi + " "), info


@pytest.mark.parametrize("line", LINES)
def test_every_spec_option_combination_builds_without_warnings(
    line: str, trees: dict[str, kernels.KernelTree], variant_trees: dict[str, Path], tmp_path: Path
) -> None:
    def one(item: tuple[int, tuple[str, Path]]) -> str | None:
        index, (label, tree) = item
        try:
            result = _build(_copy(tree, tmp_path / f"v{index}"), trees[line])
        except BuildFailedError as exc:
            return f"[{label}]\n{exc}"
        return f"[{label}]\n{_show(result)}" if result.warnings else None

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(one, enumerate(variant_trees.items())) if f]
    assert not failures, "\n".join(failures)


def test_spec_variants_cover_the_options() -> None:
    labels = [label for label, _spec in spec_variants()]
    assert len(labels) == len(set(labels)) >= 4
    assert any("log_messages=False" in label for label in labels)


# --------------------------------------------------------------------------- sparse


@pytest.mark.parametrize(
    "variant", ["default", "ring:buffer=from_backend,4MiB", "ring:buffer=to_backend,256KiB,map"]
)
def test_sparse_finds_nothing_on_61(
    variant: str,
    trees: dict[str, kernels.KernelTree],
    default_tree: Path,
    variant_trees: dict[str, Path],
    tmp_path: Path,
) -> None:
    tree = default_tree if variant == "default" else variant_trees[variant]
    result = _build(_copy(tree, tmp_path / NAME), trees["6.1"], "C=2")
    checked = re.findall(r"^\s+CHECK\s+(\S+\.c)$", result.log, re.M)
    assert len(checked) == 4, result.log  # sparse really ran on every source
    assert result.warnings == [], _show(result)


def test_sparse_reports_a_planted_address_space_bug(
    trees: dict[str, kernels.KernelTree], default_tree: Path, tmp_path: Path
) -> None:
    tree = _copy(default_tree, tmp_path / NAME)
    source = tree / "frontend" / f"{NAME}front_core.c"
    line = _append(source, "int xbtest_peek(void __user *p);\n"
                   "int xbtest_peek(void __user *p)\n{\n\treturn *(int *)p;\n}\n")  # fmt: skip
    result = _build(tree, trees["6.1"], "C=2")
    located = [d for d in result.warnings if d.file == f"frontend/{NAME}front_core.c"]
    assert any(d.line == line + 3 and "address space" in d.message for d in located), _show(result)


# --------------------------------------------------------------------------- arm64

#: ELF e_machine of an aarch64 object (``file`` says "ARM aarch64").
EM_AARCH64 = 183

#: The arm64 trees CI leaves to tests/e2e-matrix.sh: each is a chroot of its
#: release (root); 16 KiB pages (PAGE_SIZE != XEN_PAGE_SIZE) only from 6.12 on.
ARM64_MATRIX = [
    ("5.10", "arm64"),
    ("6.12", "arm64"),
    ("7.2", "arm64"),
    ("6.12", "arm64-16k"),
    ("7.2", "arm64-16k"),
]


@pytest.fixture(scope="session")
def arm64_tree() -> kernels.KernelTree:
    started = time.monotonic()
    tree = kernels.fetch("6.1", arch="arm64")
    PHASE_TIMINGS.append(f"kernel 6.1 arm64 fetched/verified in {time.monotonic() - started:.1f}s")
    return tree


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def _feature_defines(tree: Path) -> set[str]:
    """The -DXBGEN_* flags kbuild compiled the tree's C with (its .o.cmd files)."""
    cmds = [c for c in tree.rglob(".*.o.cmd") if not c.name.endswith(".mod.o.cmd")]
    assert cmds, tree
    return {flag for cmd in cmds for flag in re.findall(r"-DXBGEN_\w+", cmd.read_text())}


def _arm64_problems(label: str, tree: Path, kernel: kernels.KernelTree, *args: str) -> list[str]:
    """Build ``tree`` W=1 for arm64: every error, warning or non-aarch64 module."""
    try:
        result = _build(tree, kernel, *args)
    except BuildFailedError as exc:
        return [f"[{label}]\n{exc}"]
    problems = [f"[{label}] {d}" for d in result.warnings]
    if len(result.modules) != 2:
        problems.append(f"[{label}] modules: {result.modules}")
    problems += [
        f"[{label}] not aarch64: {m}" for m in result.modules if _elf_machine(m) != EM_AARCH64
    ]
    return problems


def test_arm64_61_builds_both_modules_without_warnings(
    arm64_tree: kernels.KernelTree, default_tree: Path, tmp_path: Path
) -> None:
    tree = _copy(default_tree, tmp_path / NAME)
    result = _build(tree, arm64_tree, "C=2")
    PHASE_TIMINGS.append(f"make W=1 C=2 default spec on 6.1 arm64: {result.seconds:.1f}s")
    assert result.ok and result.warnings == [], _show(result)
    checked = re.findall(r"^\s+CHECK\s+(\S+\.c)$", result.log, re.M)
    assert len(checked) == 4, result.log  # sparse ran (with --arch=arm64) on every source
    assert [m.name for m in result.modules] == [f"{NAME}back.ko", f"{NAME}front.ko"]
    for module in result.modules:
        assert _elf_machine(module) == EM_AARCH64, module
        vermagic = build.modinfo(module)["vermagic"][0]
        assert vermagic.startswith(arm64_tree.abi + " ") and vermagic.endswith(" aarch64")
    # xbgen check parsed the C under exactly this feature set (it runs no arm64
    # build: test_check.test_the_check_needs_no_arch).
    assert _feature_defines(tree) in [set(check.feature_defines(v)) for v in check.VERSIONS]


@pytest.mark.matrix
@pytest.mark.parametrize(
    ("line", "arch"), ARM64_MATRIX, ids=["-".join(pair) for pair in ARM64_MATRIX]
)
def test_arm64_lines_build_every_variant_without_warnings(
    line: str,
    arch: str,
    default_tree: Path,
    variant_trees: dict[str, Path],
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    kernel = kernels.fetch(line, arch=arch)
    fetched = time.monotonic() - started
    assert kernel.arch == arch and kernel.abi.endswith(f"-{arch}"), kernel
    pages = "CONFIG_ARM64_16K_PAGES=y" if arch == "arm64-16k" else "CONFIG_ARM64_4K_PAGES=y"
    assert pages in (kernel.kdir / ".config").read_text()  # 16k: PAGE_SIZE = 4 XEN_PAGE_SIZE
    trees = {"default": default_tree, **variant_trees}
    problems: list[str] = []
    for index, (label, tree) in enumerate(trees.items()):
        problems += _arm64_problems(label, _copy(tree, tmp_path / f"v{index}"), kernel)
    built = time.monotonic() - started - fetched
    PHASE_TIMINGS.append(
        f"{line} {arch} ({kernel.abi}): fetched/verified in {fetched:.0f}s, "
        f"{len(trees)} trees built W=1 in {built:.0f}s"
    )
    assert not problems, "\n".join(problems)
    features = _feature_defines(tmp_path / "v0")
    assert features in [set(check.feature_defines(v)) for v in check.VERSIONS], features


# --------------------------------------------------------------------------- planted mistakes


def _append(source: Path, text: str) -> int:
    """Append ``text`` to ``source``; returns the 1-based line number of its first line."""
    before = source.read_text()
    source.write_text(before + text)
    return before.count("\n") + 1


def _wrong_remove(line: str) -> str:
    """A .remove with the signature this kernel line does NOT have."""
    wrong = "void" if line == "5.10" else "int"
    body = "" if wrong == "void" else "\treturn 0;\n"
    return (
        f"static {wrong} xbtest_bad_remove(struct xenbus_device *dev)\n{{\n{body}}}\n\n"
        "static struct xenbus_driver xbtest_bad_driver __maybe_unused = {\n"
        "\t.remove = xbtest_bad_remove,\n};\n"
    )


@pytest.mark.parametrize("line", LINES)
def test_wrong_remove_signature_fails_with_located_diagnostic(
    line: str, trees: dict[str, kernels.KernelTree], default_tree: Path, tmp_path: Path
) -> None:
    tree = _copy(default_tree, tmp_path / NAME)
    source = tree / "backend" / f"{NAME}back_core.c"
    first = _append(source, "\n" + _wrong_remove(line))
    with pytest.raises(BuildFailedError) as caught:
        build.build_modules(tree, trees[line], extra_make_args=["W=1"], werror=True)
    diags = caught.value.result.errors + caught.value.result.warnings
    remove_line = (
        first + 1 + _wrong_remove(line).splitlines().index("\t.remove = xbtest_bad_remove,")
    )
    hits = [d for d in diags if d.file == f"backend/{NAME}back_core.c" and d.line == remove_line]
    assert hits, "\n".join(map(str, diags))
    assert f"backend/{NAME}back_core.c:{remove_line}:" in str(caught.value)


def test_missing_default_kdir_names_the_path_and_the_fix(default_tree: Path) -> None:
    missing = build.default_kdir()
    if missing.exists():
        pytest.skip(f"{missing} exists on this machine")
    with pytest.raises(build.BuildError) as caught:
        build.build_modules(default_tree)
    assert str(missing) in str(caught.value)
    assert "xbgen kernels fetch 6.1" in str(caught.value)


# --------------------------------------------------------------------------- checkpatch


def _kernel_identifiers(kernel: kernels.KernelTree) -> str:
    """Text of the xen headers: a CamelCase name defined there is the kernel's, not ours."""
    include = kernel.kdir.parent / kernel.kdir.name.replace("-amd64", "-common") / "include"
    return "".join(p.read_text(errors="replace") for p in (include / "xen").rglob("*.h"))


def _expected_check(diag: Diagnostic, kernel_text: str, wants_bug: bool) -> bool:
    """A --strict CHECK that is not the generator's fault.

    CAMELCASE on names the kernel's own headers define (XenbusStateConnected),
    and AVOID_BUG where the spec asked for BUG() (on_invalid_state = "bug").
    ERRORs and WARNINGs are never expected.
    """
    if diag.severity != "check":
        return False
    word = re.search(r"CAMELCASE: Avoid CamelCase: <(\w+)>", diag.message)
    if word:
        return re.search(rf"\b{word.group(1)}\b", kernel_text) is not None
    return wants_bug and diag.message.startswith("AVOID_BUG:")


def _checkpatch_problems(
    diags: list[Diagnostic], kernel_text: str, wants_bug: bool
) -> list[Diagnostic]:
    return [d for d in diags if not _expected_check(d, kernel_text, wants_bug)]


def test_checkpatch_strict_is_clean_for_every_variant(
    trees: dict[str, kernels.KernelTree], variant_trees: dict[str, Path]
) -> None:
    kernel_text = _kernel_identifiers(trees["6.1"])
    failures = []
    for label, tree in variant_trees.items():
        sources = sorted([*tree.glob("*/*.c"), *tree.glob("*/*.h")])
        assert len(sources) in (2, 7), sources
        wants_bug = "on_invalid_state=bug" in label
        problems = _checkpatch_problems(checkpatch.run(sources, tree), kernel_text, wants_bug)
        failures += [f"[{label}] {p}" for p in problems]
    assert not failures, "\n".join(failures)


def test_checkpatch_reports_a_planted_style_error(default_tree: Path, tmp_path: Path) -> None:
    tree = _copy(default_tree, tmp_path / NAME)
    source = tree / "frontend" / f"{NAME}front_core.c"
    line = _append(source, "int xbtest_style(int a){\n    return a;\n}\n")
    diags = checkpatch.run([source], tree)
    located = [d for d in diags if d.file == f"frontend/{NAME}front_core.c" and d.line >= line]
    assert any(d.severity == "error" for d in located), "\n".join(map(str, diags))
