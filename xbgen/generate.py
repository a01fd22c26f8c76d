"""The library API: spec -> render -> check -> write, as `xbgen new`/`render` run it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .check import Diagnostic, check_files
from .errors import CheckError, OutputExistsError
from .output import check_writable, file_is_current, tree_is_current, write_file, write_tree
from .render import render, render_spec_file
from .spec import Spec, default_spec, load_spec

DEFAULT_OUT = Path("out")


@dataclass
class Generated:
    spec: Spec
    tree: Path
    files: list[Path]
    spec_file: Path | None = None
    warnings: list[str] = field(default_factory=list)
    #: True when the tree on disk already matched and nothing was rewritten.
    unchanged: bool = False


def build_tree(spec: Spec) -> dict[str, str]:
    """Render and check in memory; raises CheckError before anything is written."""
    files = render(spec)
    problems: list[Diagnostic] = check_files(files)
    if problems:
        raise CheckError(
            f"the emitted code failed the check ({len(problems)} problem(s)); nothing written",
            [str(p) for p in problems],
        )
    return files


def generate(spec: Spec, out: Path = DEFAULT_OUT, force: bool = False) -> Generated:
    """Render `spec` into ``out/<name>/``.

    A tree that already holds exactly these files is left alone (so build
    products in it survive); any other existing tree needs `force`.
    """
    return _write(spec, build_tree(spec), out / spec.name, force)


def _write(spec: Spec, files: dict[str, str], dest: Path, force: bool) -> Generated:
    if tree_is_current(files, dest):
        listed = [dest / rel for rel in sorted(files)]
        return Generated(spec, dest, listed, warnings=spec.warnings(), unchanged=True)
    written = write_tree(files, dest, force=force)
    return Generated(spec, dest, written, warnings=spec.warnings())


def new(
    name: str, out: Path = DEFAULT_OUT, force: bool = False, spec_dir: Path | None = None
) -> Generated:
    """`xbgen new`: write a commented starter spec and render it.

    Refuses (before writing anything) to replace a spec file or tree that
    differs from what it would write, unless `force`.
    """
    spec = default_spec(name)
    spec_file = (spec_dir or Path()) / f"{name}.toml"
    spec_text = render_spec_file(spec)
    files = build_tree(spec)
    dest = out / spec.name
    spec_current = file_is_current(spec_file, spec_text)
    if spec_file.exists() and not spec_current and not force:
        raise OutputExistsError(f"{spec_file} already exists; pass --force to replace it")
    if not tree_is_current(files, dest):
        check_writable(dest, force)
    if not spec_current:
        write_file(spec_file, spec_text, force=True)
    result = _write(spec, files, dest, force)
    result.spec_file = spec_file
    return result


def render_file(spec_path: Path, out: Path = DEFAULT_OUT, force: bool = False) -> Generated:
    """`xbgen render SPEC`."""
    return generate(load_spec(spec_path), out, force)
