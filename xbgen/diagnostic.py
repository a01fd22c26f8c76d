"""One finding about the emitted code, whichever tool made it.

:mod:`xbgen.check` (cpp, pycparser and :mod:`xbgen.cinspect`),
:mod:`xbgen.build` (gcc, sparse, modpost, objtool, ld, make) and
:mod:`xbgen.checkpatch` all report :class:`Diagnostic` objects.  This module
imports nothing of xbgen's, so each of them can use it without importing
another (and a cached check never loads pycparser).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A message located in a file (relative to the driver tree when inside it).

    ``line`` is 0 when the tool gives none; ``col`` is ``None`` when the
    tool's column is not reported (the build's), else the column, 0 unknown
    (the check's).  ``severity`` is empty for the check's findings, which are
    all errors, else ``error``, ``warning``, ``note`` or ``check``
    (checkpatch --strict).  ``file`` is empty when nothing locates the
    message (kbuild, make).
    """

    file: str
    line: int
    col: int | None = None
    message: str = ""
    severity: str = ""
    tool: str = ""

    def __str__(self) -> str:
        """``file:line:col: message`` (the check's) or ``file:line: severity: message``."""
        where = self.file or "(kbuild)"
        if self.line:
            where += f":{self.line}" if self.col is None else f":{self.line}:{self.col}"
        kind = f"{self.severity}: " if self.severity else ""
        return f"{where}: {kind}{self.message}"
