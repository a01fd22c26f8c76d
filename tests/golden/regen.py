"""Regenerate the golden trees:  python3 tests/golden/regen.py

Each folder here is one case: a spec and the tree xbgen writes for it, exactly
as a user gets them (``NAME.toml`` beside ``NAME/``).  tests/test_render.py
writes every case again into a temporary folder and compares the two byte for
byte, so a template change that alters the output fails there until this
script has been run and the diff (``git diff tests/golden``) reviewed.

The script renders with the xbgen of this checkout, whatever copy of xbgen is
installed, and replaces each case folder whole.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent
REPO = GOLDEN.parent.parent
#: The command that regenerates the goldens; failing tests name it.
REGEN = "python3 tests/golden/regen.py"

if __name__ == "__main__":
    sys.path.insert(0, str(REPO))

from xbgen.generate import new, render_file  # noqa: E402
from xbgen.output import write_file  # noqa: E402
from xbgen.render import render_spec_file  # noqa: E402
from xbgen.spec import Spec, default_spec  # noqa: E402

#: Every case's device is called this, so `diff -r` between two cases shows
#: only what their specs change.
NAME = "mydevice"


def _changed(**changes: object) -> Spec:
    """The starter spec of `xbgen new NAME` with `changes`, validated."""
    values = default_spec(NAME).model_dump()
    ring_changes = changes.pop("ring", None)
    if isinstance(ring_changes, dict):
        values["ring"] = {**values["ring"], **ring_changes}
    return Spec.model_validate({**values, **changes})


#: case folder -> the spec it renders; None: what `xbgen new NAME` writes.
CASES: dict[str, Callable[[], Spec] | None] = {
    # the default ring driver: `xbgen new mydevice`, spec and tree
    "default": None,
    # the handshake-only driver: the starter spec without the [ring] tables
    "handshake": lambda: default_spec(NAME, ring=False),
    # a ring of up to 4 pages (ring-page-order, ring-ref0..3) and two features
    "multipage": lambda: _changed(
        ring={"pages": 4},
        feature=[{"name": "flush", "default": True}, {"name": "discard", "default": False}],
    ),
    # the backend in a driver domain: the scripts and the README differ
    "driver-domain": lambda: _changed(backend_domid=1),
    # calls that carry a buffer both ways, up to 64KiB, and its checksum back
    "buffer": lambda: _changed(
        ring={
            "response": {"status": "s32", "value": "u64", "data": "u8[16]", "sum": "u32"},
            "buffer": {"max": "64KiB", "direction": "both"},
        }
    ),
    # 128KiB both ways by persistent grants (transfer = "map"): indirect pages
    "buffer-map": lambda: _changed(
        ring={
            "response": {"status": "s32", "value": "u64", "data": "u8[16]", "sum": "u32"},
            "buffer": {"max": "128KiB", "direction": "both", "transfer": "map"},
        }
    ),
}


def write_case(case: str, folder: Path) -> None:
    """Write `case`'s spec and tree into `folder` as a user's commands would."""
    spec = CASES[case]
    if spec is None:
        new(NAME, out=folder, spec_dir=folder)
        return
    spec_file = folder / f"{NAME}.toml"
    write_file(spec_file, render_spec_file(spec()))
    render_file(spec_file, out=folder)


def main() -> None:
    for case in CASES:
        folder = GOLDEN / case
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        write_case(case, folder)
        print(f"wrote {folder.relative_to(REPO)}/")
    print("review the change:  git diff --stat tests/golden")


if __name__ == "__main__":
    main()
