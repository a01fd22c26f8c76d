"""The `xbgen` command (the console script) and `python -m xbgen`.

The command line is the typer app in :mod:`xbgen.cli`.  One form of one
command, ``xbgen new NAME [--out DIR] [--force]``, the one most runs are, is
read here and run without loading typer: typer builds a pydantic validator
for every parameter it parses, so its parsing alone would import pydantic,
which `new` otherwise never needs (see :mod:`xbgen.specbase`): that
would about double the run's time.  Everything else (other spellings, help,
shell completion, --mirror) goes to typer, which runs the same code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def plain_new(args: list[str]) -> tuple[str, Path, bool] | None:
    """(NAME, OUT, FORCE) of `new NAME [--out DIR] [--force]`, or None for typer.

    Only the spellings that cannot mean anything else are taken: each option
    at most once, a value that does not start with '-'.  Help, completion
    (_XBGEN_COMPLETE) and a mirror (XBGEN_DEBIAN_MIRROR, which typer checks)
    are typer's.
    """
    if args[:1] != ["new"] or {"_XBGEN_COMPLETE", "XBGEN_DEBIAN_MIRROR"} & os.environ.keys():
        return None
    name: str | None = None
    out: Path | None = None
    force = False
    rest = iter(args[1:])
    for arg in rest:
        if arg in ("--force", "-f") and not force:
            force = True
        elif arg in ("--out", "-o") and out is None:
            value = next(rest, "")
            if not value or value.startswith("-"):
                return None
            out = Path(value)
        elif name is None and arg and not arg.startswith("-"):
            name = arg
        else:
            return None
    return None if name is None else (name, out or Path("out"), force)


def main() -> None:
    plain = plain_new(sys.argv[1:])
    if plain is None:
        from .cli import main as typer_main

        typer_main()
        return
    from .console import report, user_errors
    from .generate import new

    try:
        with user_errors():
            report(new(*plain), "rendered")
    except BrokenPipeError:  # as typer does: quietly, exit 1
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
