"""Linux pages larger than Xen's (arm64 16 and 64 KiB): the generated page
handling, run.

xbgen verify's model has 4 KiB pages, like x86, so a Xen page counted as a
Linux page (or the reverse) never shows there.  Here the rendered
NAMEfront_core.c and NAMEback_core.c are compiled into a small harness
(tests/pages/) against the fake kernel headers with PAGE_SIZE of 4, 16 and
64 KiB, and run with ASan and UBSan against a model of Linux's page
references and a grant table (tests/pages/pages.h): the frontend's ring of
1 to 16 Xen pages, granted and freed by both kernel APIs (before 5.19 the
driver ends each grant with its page; since, xenbus_setup_ring() and
xenbus_teardown_ring()), and a copy buffer's pages, segments and indirect
pages; the backend's grant copies of a buffer at every segment offset.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from xbgen.check import FAKE_INCLUDE, feature_defines
from xbgen.generate import generate
from xbgen.spec import Spec, default_spec
from xbgen.verify.compiler import CFLAGS
from xbgen.verify.results import KERNELS

HARNESS = Path(__file__).resolve().parent / "pages"
NAME = "mydevice"
#: 4 KiB (x86, arm64's default), 16 and 64 KiB (arm64's other page sizes).
PAGE_SHIFTS = [12, 14, 16]


def _spec(buffer: dict[str, str]) -> Spec:
    base = default_spec(NAME).model_dump()
    ring = {
        **base["ring"],
        "pages": 16,
        "response": {**base["ring"]["response"], "sum": "u32"},
        "buffer": buffer,
    }
    return Spec.model_validate({**base, "ring": ring})


#: Copy buffers: segments in the request both ways; in indirect pages from
#: the backend (4 MiB, the largest) and to it (granted read-only).
TREES = {
    "both-64KiB": {"max": "64KiB", "direction": "both"},
    "from-4MiB": {"max": "4MiB", "direction": "from_backend"},
    "to-256KiB": {"max": "256KiB", "direction": "to_backend"},
}


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Spec]]:
    out = tmp_path_factory.mktemp("pages")
    made = {}
    for index, (label, buffer) in enumerate(TREES.items()):
        spec = _spec(buffer)
        made[label] = (generate(spec, out=out / f"t{index}").tree, spec)
    return made


def _buffer_defines(spec: Spec) -> list[str]:
    buf = spec.ring.buffer  # type: ignore[union-attr]
    flags = ["-DBUF", f"-DBUF_READONLY={int(buf.direction == 'to_backend')}"]
    flags += ["-DBUF_INDIRECT"] if buf.indirect else []
    flags += ["-DBUF_TO_BACKEND"] if buf.to_backend else []
    flags += ["-DBUF_FROM_BACKEND"] if buf.from_backend else []
    return flags


def _run(tree: Path, spec: Spec, role: str, shift: int, kernel: str, work: Path) -> str:
    """Compile harness `role` (front, back) with the tree's core, link, run: its output."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    core = f"{NAME}{role}_core.c"
    flags = [
        *CFLAGS,
        "-nostdinc",
        "-D__KERNEL__",
        f'-DKBUILD_MODNAME="{NAME}{role}"',
        f"-DXBGEN_SIM_ROLE={role}",
        f"-DXBGEN_PAGE_SHIFT={shift}",
        f'-DCORE="{core}"',
        *feature_defines(KERNELS[kernel]),
        *_buffer_defines(spec),
        "-I", str(tree / f"{role}end"),
        "-I", str(tree / "include"),
        "-I", str(FAKE_INCLUDE),
        "-I", str(HARNESS),
    ]  # fmt: skip
    obj = work / f"{role}.o"
    subprocess.run([gcc, *flags, "-c", str(HARNESS / f"{role}.c"), "-o", str(obj)], check=True)
    # The core calls much that these cases never reach (xenstore, irqs, locks):
    # each such function is a trap.
    link = subprocess.run(
        [gcc, *CFLAGS, str(obj), "-o", str(work / role)], capture_output=True, text=True
    )
    missing = sorted(set(re.findall(r"undefined reference to `(\w+)'", link.stderr)))
    if link.returncode:
        assert missing, link.stderr
        traps = work / "traps.c"
        traps.write_text(
            "".join(f"void {name}(void) {{ __builtin_trap(); }}\n" for name in missing)
        )
        subprocess.run(
            [gcc, *CFLAGS, str(obj), str(traps), "-o", str(work / role)],
            check=True,
            capture_output=True,
        )
    run = subprocess.run([str(work / role)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    return run.stdout


@pytest.mark.parametrize("shift", PAGE_SHIFTS, ids=lambda s: f"{1 << (s - 10)}KiB")
@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("label", list(TREES))
def test_frontend_ring_and_buffer_pages(
    trees: dict[str, tuple[Path, Spec]], label: str, kernel: str, shift: int, tmp_path: Path
) -> None:
    tree, spec = trees[label]
    out = _run(tree, spec, "front", shift, kernel, tmp_path)
    assert out.startswith(f"ok: PAGE_SIZE {1 << shift},"), out


@pytest.mark.parametrize("shift", PAGE_SHIFTS, ids=lambda s: f"{1 << (s - 10)}KiB")
@pytest.mark.parametrize("label", list(TREES))
def test_backend_grant_copies(
    trees: dict[str, tuple[Path, Spec]], label: str, shift: int, tmp_path: Path
) -> None:
    tree, spec = trees[label]
    out = _run(tree, spec, "back", shift, "6.12", tmp_path)
    assert out.startswith(f"ok: PAGE_SIZE {1 << shift},"), out
