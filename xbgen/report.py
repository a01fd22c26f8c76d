"""What `xbgen build` and `xbgen kernels` report, as lines of text.

The library returns results (:class:`~xbgen.build.BuildResult`,
:class:`~xbgen.kernels.LineStatus`); these functions only format them, and
:mod:`xbgen.cli` prints the lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .build import BuildResult
    from .diagnostic import Diagnostic
    from .kernels import LineStatus


def diagnostic_lines(diagnostics: Iterable[Diagnostic]) -> list[str]:
    """``file:line: severity: message``, one a diagnostic."""
    return [str(diagnostic) for diagnostic in diagnostics]


def build_lines(result: BuildResult) -> list[str]:
    """A build's warnings, its summary, then the modules it made (indented)."""
    return [
        *diagnostic_lines(result.warnings),
        result.summary(),
        *(f"  {module}" for module in result.modules),
    ]


def kernel_lines(lines: Iterable[LineStatus]) -> list[str]:
    """One line each: the kernel line, arch, Debian release, then its tree or how to fetch it."""
    return [_kernel_line(status) for status in lines]


def _kernel_line(status: LineStatus) -> str:
    line, tree = status.line, status.tree
    if tree is None:
        arch = "" if status.arch == "amd64" else f" --arch {status.arch}"
        text = f"not fetched (xbgen kernels fetch {line}{arch})"
    else:
        where = f"chroot {tree.chroot}" if tree.chroot else "host"
        text = f"{tree.abi:28} {tree.kdir} ({where})"
    return f"{line:5} {status.arch:9} {status.release:9} {text}"
