"""What the commands print, and how a user error ends one.

An :class:`~xbgen.errors.XbgenError` becomes a one-line message on stderr and
its exit code, never a traceback.  Output goes through rich consoles, made on
first use: rich takes tens of milliseconds to import, and a line with no
markup, no ``:emoji:`` code and nothing but printable ASCII is written as it
is, byte for byte what rich would write, so `xbgen new` seldom loads it.
Nothing here imports typer (see :mod:`xbgen.__main__`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import CheckError, XbgenError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rich.console import Console as RichConsole

    from .generate import Generated

#: What rich reads in a string besides its text: a markup tag, an emoji code.
_RICH_SYNTAX = re.compile(r"\[|:\S*?:")


def _plain(text: str) -> bool:
    """True if rich would print `text` unchanged (and without styles)."""
    return all(
        line.isascii() and line.isprintable() for line in text.split("\n")
    ) and not _RICH_SYNTAX.search(text)


class Console:
    """A rich console (highlighting off, no wrapping) that rich makes on first use."""

    def __init__(self, stderr: bool = False) -> None:
        self.stderr = stderr
        self._rich: RichConsole | None = None

    @property
    def rich(self) -> RichConsole:
        if self._rich is None:
            from rich.console import Console as RichConsole

            self._rich = RichConsole(stderr=self.stderr, highlight=False, soft_wrap=True)
        return self._rich

    def print(self, text: str) -> None:
        if self._rich is None and _plain(text):
            stream = sys.stderr if self.stderr else sys.stdout
            stream.write(text + "\n")
            stream.flush()
        else:
            self.rich.print(text)

    def __getattr__(self, name: str) -> Any:  # print_json and the rest of rich's Console
        return getattr(self.rich, name)


out_console = Console()
err_console = Console(stderr=True)


def escape(text: str) -> str:
    """`text` with rich markup escaped."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def fail(error: XbgenError) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(error.message)}")
    if isinstance(error, CheckError):
        for line in error.diagnostics:
            err_console.print(escape(line))
    sys.exit(error.exit_code)


def progress(message: str) -> None:
    """A command's progress (downloads, unpacking, builds): ``xbgen: MESSAGE`` on stderr."""
    err_console.print(escape(f"xbgen: {message}"))


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except XbgenError as error:
        fail(error)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


def report(result: Generated, verb: str) -> None:
    """What `xbgen new`/`render` did, and the steps that follow."""
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
    if result.spec_file is not None:
        out_console.print(f"wrote spec  {result.spec_file}")
    if result.unchanged:
        out_console.print(f"{result.tree}/ is up to date (nothing rewritten)")
    else:
        out_console.print(f"{verb} {result.tree}/")
    for path in result.files:
        out_console.print(f"  {path.relative_to(result.tree)}")
    for path in result.removed:
        out_console.print(f"  {path.relative_to(result.tree)} (removed: no longer generated)")
    if result.kept and not result.unchanged:
        kept = ", ".join(str(p.relative_to(result.tree)) for p in result.kept)
        out_console.print(f"kept your files: {kept}")
    spec, tree = result.spec, result.tree
    steps = [
        (f"xbgen build {tree}", "or: make -C " + str(tree)),
        (f"insmod {tree}/backend/{spec.backend_module}.ko", f"in dom{spec.backend_domid}"),
        (f"{tree}/activate.sh DOMU_ID", f"in dom{spec.backend_domid}"),
        (f"insmod {tree}/frontend/{spec.frontend_module}.ko", "in the guest DOMU_ID"),
        (f"xbgen e2e {tree}", "prove it on Xen in QEMU"),
    ]
    width = max(len(cmd) for cmd, _ in steps)
    out_console.print("\nnext steps:")
    for cmd, why in steps:
        out_console.print(f"  {cmd:<{width}}  # {why}")


def print_lines(lines: Iterable[str]) -> None:
    """Each line on stdout as it is (markup escaped): a command's report."""
    for line in lines:
        out_console.print(escape(line))
