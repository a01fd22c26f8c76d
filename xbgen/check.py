"""Check emitted C: preprocess against fake kernel headers, parse, inspect.

`cpp` (the system preprocessor) expands each C file against the small set of
fake kernel headers in ``xbgen/fake_include``; pycparser parses the result and
:class:`~xbgen.cinspect.Inspector` walks the AST.  Every finding is a
:class:`~xbgen.diagnostic.Diagnostic` printed as ``file:line:col: message``.

What is reported: parse errors; calls to functions no header declares;
struct members a struct does not have; undeclared identifiers; a designated
initializer whose function's return type differs from the member's; a
``switch`` over ``enum xenbus_state`` that neither covers every state nor has
``default``; a case that falls into the next without ``fallthrough;``; and
leftover Jinja markup in any emitted file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import cache_dir
from .diagnostic import Diagnostic
from .errors import ToolMissingError

if TYPE_CHECKING:
    import subprocess

FAKE_INCLUDE = Path(__file__).resolve().parent / "fake_include"

#: LINUX_VERSION_CODE values to preprocess with, so both sides of each
#: version guard are checked: 5.10.0 and 6.12.0.
VERSIONS = ((5 << 16) + (10 << 8), (6 << 16) + (12 << 8))

JINJA_MARKUP = re.compile(r"(?<!\$)\{[{%#]")


# --------------------------------------------------------------------------- entry points


def check_files(files: dict[str, str], context: dict[str, str] | None = None) -> list[Diagnostic]:
    """Check in-memory files ``{path: text}``; C files get the full check.

    `context` holds more of the tree's headers ({path: text}) that the C
    files may include but that are not themselves being checked.
    """
    found: list[Diagnostic] = []
    for path, text in files.items():
        found += check_markup(text, path)
    sources = {path: text for path, text in files.items() if path.endswith(".c")}
    every = {**(context or {}), **files}
    headers = {_tree_relative(path): text for path, text in every.items() if path.endswith(".h")}
    found += _check_sources(sources, headers)
    return sorted(set(found))


def _tree_relative(path: str) -> str:
    """A header's path from its tree's root: the last two parts (include/x.h, frontend/y.h)."""
    parts = Path(path).parts
    return str(Path(*parts[-2:])) if len(parts) >= 2 else path


def check_paths(paths: Iterable[Path]) -> list[Diagnostic]:
    """Check files on disk; a folder means every emitted file inside it."""
    files: dict[str, str] = {}
    context: dict[str, str] = {}
    for path in paths:
        for file in _expand(path):
            files[str(file)] = file.read_text(encoding="utf-8", errors="replace")
            if file.suffix == ".c":
                # The headers a lone C file includes: beside it and in ../include.
                for header in [*file.parent.glob("*.h"), *file.parent.parent.glob("include/*.h")]:
                    context[str(header)] = header.read_text(encoding="utf-8", errors="replace")
    return check_files(files, context)


def _expand(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file() and _is_emitted(file):
                yield file
    else:
        yield path


def _is_emitted(file: Path) -> bool:
    """What xbgen writes into a tree; kbuild's products (``*.mod.c``) are not."""
    if file.name.endswith(".mod.c") or file.name.startswith("."):
        return False
    return file.suffix in {".c", ".h", ".sh", ".md"} or file.name in {"Makefile", "Kbuild"}


def check_markup(text: str, path: str) -> list[Diagnostic]:
    """Leftover Jinja markup (``{{``, ``{%``, ``{#``) in rendered output."""
    found = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for match in JINJA_MARKUP.finditer(line):
            found.append(
                Diagnostic(
                    path, lineno, match.start() + 1, f"leftover template markup {match[0]!r}"
                )
            )
    return found


def check_c(text: str, path: str) -> list[Diagnostic]:
    """Preprocess, parse and inspect one C file under each kernel version."""
    return _check_sources({path: text})


def _check_sources(
    sources: dict[str, str], headers: dict[str, str] | None = None
) -> list[Diagnostic]:
    """Check each C file; `headers` are the tree's own .h files ({path: text}).

    Results are cached under the xbgen cache folder, keyed by everything that
    decides them (the sources and headers, the fake kernel headers, this
    module's own code): parsing is most of the time `xbgen new` takes, and the
    same files always give the same findings.  XBGEN_CHECK_CACHE=0 turns the
    cache off.
    """
    headers = headers or {}
    key = _cache_key(sources, headers)
    cached = _cache_load(key)
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(prefix="xbgen-check-") as tmp:
        root = Path(tmp)
        for rel, text in headers.items():
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
        found = _check_in(sources, root)
    _cache_store(key, found)
    return found


@cache
def _checker_digest() -> str:
    """What the findings depend on besides the input: this code and the fake headers.

    pycparser's version comes from its ``__init__.py`` (which names it), read
    rather than imported: a cached run never loads the parser.
    """
    here = Path(__file__)
    digest = hashlib.sha256(here.read_bytes())
    for module in ("cinspect.py", "diagnostic.py"):
        digest.update(here.with_name(module).read_bytes())
    for header in sorted(FAKE_INCLUDE.rglob("*.h")):
        digest.update(str(header.relative_to(FAKE_INCLUDE)).encode() + b"\0")
        digest.update(header.read_bytes())
    digest.update(repr((VERSIONS, sorted(FEATURES.items()))).encode())
    parser = importlib.util.find_spec("pycparser")
    if parser is not None and parser.origin is not None:
        digest.update(Path(parser.origin).read_bytes())
    return digest.hexdigest()


def _cache_key(sources: dict[str, str], headers: dict[str, str]) -> str:
    digest = hashlib.sha256(_checker_digest().encode())
    for kind, files in (("c", sources), ("h", headers)):
        for path, text in sorted(files.items()):
            digest.update(f"{kind}\0{path}\0{len(text)}\0".encode() + text.encode())
    return digest.hexdigest()


def _cache_file(key: str) -> Path | None:
    if os.environ.get("XBGEN_CHECK_CACHE", "1") == "0":
        return None
    try:
        folder = cache_dir() / "check"
        folder.mkdir(exist_ok=True)
    except OSError:
        return None
    return folder / f"{key}.json"


def _cache_load(key: str) -> list[Diagnostic] | None:
    path = _cache_file(key)
    if path is None:
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [Diagnostic(d["file"], d["line"], d["col"], d["message"]) for d in raw]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cache_store(key: str, found: list[Diagnostic]) -> None:
    path = _cache_file(key)
    if path is None:
        return
    data = json.dumps([{"file": d.file, "line": d.line, "col": d.col, "message": d.message}
                       for d in found])  # fmt: skip
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


def _check_in(sources: dict[str, str], root: Path) -> list[Diagnostic]:
    from .cinspect import parse_and_inspect  # pycparser: only when something is parsed

    # All cpp runs start at once; the parses then run on every core.
    jobs = {
        (path, version): _start_cpp(text, path, version, root)
        for path, text in sources.items()
        for version in VERSIONS
    }
    headers = _own_headers(root)
    preprocessed = {key: _finish_cpp(proc, sources[key[0]], *key) for key, proc in jobs.items()}
    parses = [
        (key, (text, sources[key[0]], key[0], headers))
        for key, text in preprocessed.items()
        if isinstance(text, str)
    ]
    parsed = dict(
        zip(
            [key for key, _ in parses],
            _map_parallel(parse_and_inspect, [args for _, args in parses]),
            strict=True,
        )
    )
    found: set[Diagnostic] = set()
    failed: set[str] = set()
    for (path, version), result in preprocessed.items():
        if path in failed:
            continue
        problems = result if isinstance(result, list) else parsed[(path, version)]
        found.update(problems)
        if isinstance(result, list) or any("parse error" in d.message for d in problems):
            failed.add(path)
    # cpp and the parser name a tree header by where it was written for them.
    return sorted({replace(d, file=headers.get(d.file, d.file)) for d in found})


def _map_parallel(func: Callable[..., list[Diagnostic]], calls: list[tuple]) -> list:
    """``[func(*args) for args in calls]``, on every core (pycparser is pure
    Python: one parse per process); forked, so the parser is loaded once."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = min(len(calls), os.cpu_count() or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [func(*args) for args in calls]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(func, *zip(*calls, strict=True)))


# --------------------------------------------------------------------------- cpp + parse


#: Kbuild feature test -> first kernel version whose headers pass it.
FEATURES: dict[str, int] = {
    "XBGEN_XENBUS_NOT_ESSENTIAL": (5 << 16) + (16 << 8),
    "XBGEN_XENBUS_REMOVE_VOID": (6 << 16) + (1 << 8) + 162,
    "XBGEN_XENBUS_SETUP_RING": (5 << 16) + (19 << 8),
    "XBGEN_GNTTAB_END_PAGE": (5 << 16) + (19 << 8),
    "XBGEN_EVTCHN_BIND_DEV": (5 << 16) + (12 << 8),
}


def feature_defines(version: int) -> list[str]:
    """What the generated Kbuild's feature tests define for a kernel of ``version``."""
    return [f"-D{name}" for name, since in FEATURES.items() if version >= since]


def _start_cpp(text: str, path: str, version: int, root: Path) -> subprocess.Popen[str]:
    cpp = shutil.which("cpp")
    if cpp is None:
        raise ToolMissingError("cpp not found: install gcc (Debian: apt-get install cpp)")
    module = _module_name(path)
    cmd = [cpp, "-nostdinc", "-undef", "-D__KERNEL__", f'-DKBUILD_MODNAME="{module}"']
    cmd += [f"-DLINUX_VERSION_CODE={version}", *feature_defines(version)]
    # "x.h" next to the C file, then the tree's include/ (as the Kbuild's -I).
    cmd += ["-iquote", str(_header_dir(root, path)), "-I", str(root / "include")]
    cmd += ["-I", str(FAKE_INCLUDE), "-"]
    import subprocess  # here: a cached check runs no cpp

    return subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="replace",
    )


def _module_name(path: str) -> str:
    """KBUILD_MODNAME: the module a C file is linked into (foofront_core.c -> foofront)."""
    stem = Path(path).stem
    for suffix in ("_core", "_user"):
        if stem.endswith(suffix):
            return stem.removesuffix(suffix)
    return stem


def _header_dir(root: Path, path: str) -> Path:
    """Where the tree's headers beside `path` were written (its folder under `root`)."""
    parts = Path(path).parts
    for depth in range(len(parts) - 1, 0, -1):
        candidate = root.joinpath(*parts[depth - 1 : len(parts) - 1])
        if candidate.is_dir():
            return candidate
    return root


def _finish_cpp(
    proc: subprocess.Popen[str], text: str, path: str, version: int
) -> str | list[Diagnostic]:
    stdout, stderr = proc.communicate(f'# 1 "{path}"\n{text}')
    if proc.returncode == 0:
        return stdout
    return _cpp_diagnostics(stderr, path)


_CPP_LINE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?:fatal )?error: (?P<msg>.*)$"
)


def _cpp_diagnostics(stderr: str, path: str) -> list[Diagnostic]:
    found = []
    for line in stderr.splitlines():
        m = _CPP_LINE.match(line)
        if m:
            found.append(Diagnostic(m["file"], int(m["line"]), int(m["col"]), m["msg"]))
    return found or [Diagnostic(path, 0, 0, f"preprocessor failed: {stderr.strip()}")]


def _own_headers(root: Path) -> dict[str, str]:
    """{where cpp saw a tree header: its path in the tree} for the headers under `root`."""
    return {str(h): str(h.relative_to(root)) for h in root.rglob("*.h")}
