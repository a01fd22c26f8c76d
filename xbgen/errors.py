"""One exception hierarchy for every user-facing failure.

The CLI catches :class:`XbgenError`, prints its message (no traceback) and exits
with its ``exit_code``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CHECK = 3


class XbgenError(Exception):
    """Base class: a failure the user can act on."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SpecError(XbgenError):
    """The spec file is missing, unreadable or invalid."""

    exit_code = EXIT_USAGE


class UsageError(XbgenError):
    """Bad command-line usage that typer itself cannot detect."""

    exit_code = EXIT_USAGE


class OutputExistsError(XbgenError):
    """Refusing to overwrite existing output without --force."""

    exit_code = EXIT_FAILURE


class CheckError(XbgenError):
    """The emitted C failed the syntax/semantic check."""

    exit_code = EXIT_CHECK

    def __init__(self, message: str, diagnostics: list[str] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics or []


class ToolMissingError(XbgenError):
    """A host tool (cpp, make, apt-get, qemu ...) is not installed."""


class FetchError(XbgenError):
    """Downloading or unpacking Debian packages failed."""


class BuildError(XbgenError):
    """`make` against kernel headers failed (or warned, under --werror)."""


class E2EError(XbgenError):
    """The end-to-end run on Xen in QEMU failed."""
