"""The library API: spec -> render -> check -> write, as `xbgen new`/`render` run it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .check import check_files
from .diagnostic import Diagnostic
from .errors import CheckError, OutputExistsError
from .output import (
    check_writable,
    edited_files,
    file_is_current,
    tree_is_current,
    update_tree,
    write_file,
    write_tree,
)
from .render import OUTPUTS, render, render_spec_file, render_user
from .specbase import SpecInfo, starter

DEFAULT_OUT = Path("out")


@dataclass
class Generated:
    spec: SpecInfo
    tree: Path
    files: list[Path]
    spec_file: Path | None = None
    warnings: list[str] = field(default_factory=list)
    #: True when the tree on disk already matched and nothing was rewritten.
    unchanged: bool = False
    #: User-owned files found in the tree and left as they were.
    kept: list[Path] = field(default_factory=list)
    #: Files xbgen wrote before and no longer writes, now removed.
    removed: list[Path] = field(default_factory=list)


def build_tree(spec: SpecInfo) -> dict[str, str]:
    """Render and check in memory; raises CheckError before anything is written.

    Returns the files xbgen owns.  They are checked together with the user
    files as `xbgen new` first writes them, so whether a tree can be
    rendered never depends on the user's own edits.
    """
    files = render(spec)
    problems: list[Diagnostic] = check_files({**files, **render_user(spec)})
    if problems:
        raise CheckError(
            f"the emitted code failed the check ({len(problems)} problem(s)); nothing written",
            [str(p) for p in problems],
        )
    return files


def generate(spec: SpecInfo, out: Path = DEFAULT_OUT, force: bool = False) -> Generated:
    """Render `spec` into ``out/<name>/``.

    A new tree is written whole.  An existing one is updated in place: the
    files xbgen owns are rewritten, the user's files are kept; a file xbgen
    owns that was edited by hand is replaced only with `force`.
    """
    files = build_tree(spec)
    dest = out / spec.name
    check_updatable(dest, files, force)
    return _write(spec, files, dest)


def check_updatable(dest: Path, files: dict[str, str], force: bool) -> None:
    """Refuse, before anything is written, to touch what is not xbgen's to touch."""
    if not (dest.exists() or dest.is_symlink()):
        return
    check_writable(dest, force=True)  # refuses a folder xbgen did not make
    if force:
        return
    edited = edited_files(dest, files)
    if edited:
        shown = ", ".join(edited[:5]) + (f" and {len(edited) - 5} more" if len(edited) > 5 else "")
        raise OutputExistsError(
            f"{dest}: {shown} changed since xbgen wrote them; pass --force to overwrite "
            "(the *_user.c files are kept either way)"
        )


def _write(spec: SpecInfo, files: dict[str, str], dest: Path) -> Generated:
    user = render_user(spec)
    if tree_is_current(files, dest, user):
        listed = [dest / rel for rel in sorted(files)]
        kept = [dest / rel for rel in sorted(user)]
        return Generated(spec, dest, listed, warnings=spec.warnings(), unchanged=True, kept=kept)
    if not dest.exists():
        written = write_tree(files, dest, user=user)
        return Generated(spec, dest, written, warnings=spec.warnings())
    legacy = [out.format(name=spec.name) for out in OUTPUTS.values()]
    update = update_tree(dest, files, user, legacy)
    return Generated(
        spec,
        dest,
        update.written,
        warnings=spec.warnings(),
        kept=update.kept,
        removed=update.removed,
    )


def new(
    name: str, out: Path = DEFAULT_OUT, force: bool = False, spec_dir: Path | None = None
) -> Generated:
    """`xbgen new`: write a commented starter spec and render it.

    Refuses (before writing anything) to replace a spec file or tree that
    differs from what it would write, unless `force`.
    """
    spec = starter(name)  # plain values: pydantic is not even imported
    spec_file = (spec_dir or Path()) / f"{name}.toml"
    spec_text = render_spec_file(spec)
    files = build_tree(spec)
    dest = out / spec.name
    spec_current = file_is_current(spec_file, spec_text)
    if spec_file.exists() and not spec_current and not force:
        raise OutputExistsError(f"{spec_file} already exists; pass --force to replace it")
    check_updatable(dest, files, force)
    if not spec_current:
        write_file(spec_file, spec_text, force=True)
    result = _write(spec, files, dest)
    result.spec_file = spec_file
    return result


def render_file(spec_path: Path, out: Path = DEFAULT_OUT, force: bool = False) -> Generated:
    """`xbgen render SPEC`."""
    from .spec import load_spec

    return generate(load_spec(spec_path), out, force)
