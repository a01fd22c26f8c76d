"""Render a validated spec into the files of a driver tree.

Pure: a spec (a :class:`~xbgen.spec.Spec`, or the starter of
:mod:`xbgen.specbase`) goes in, ``{relative path: text}`` comes out.  Nothing
here touches the output folder (see :mod:`xbgen.output`).
Template errors are re-raised as :class:`~xbgen.errors.XbgenError` naming the
template and its line, never Jinja internals.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from . import __version__
from .cache import cache_dir
from .errors import XbgenError

if TYPE_CHECKING:
    from .specbase import SpecInfo

#: Preferred line length of kernel code; longer prototypes are wrapped.
C_LINE = 80

#: template -> output path; ``{name}`` is the spec's device name.  These are
#: the handshake-only driver's files; a spec with a [ring] gets RING_OUTPUTS.
OUTPUTS: dict[str, str] = {
    "frontend/front.c.j2": "frontend/{name}front.c",
    "frontend/Kbuild.j2": "frontend/Kbuild",
    "frontend/Makefile.j2": "frontend/Makefile",
    "backend/back.c.j2": "backend/{name}back.c",
    "backend/Kbuild.j2": "backend/Kbuild",
    "backend/Makefile.j2": "backend/Makefile",
    "Makefile.j2": "Makefile",
    "dkms.conf.j2": "dkms.conf",
    "activate.sh.j2": "activate.sh",
    "deactivate.sh.j2": "deactivate.sh",
    "README.md.j2": "README.md",
}

#: The files of a driver with a data path (a [ring] table).
RING_OUTPUTS: dict[str, str] = {
    "include/ring.h.j2": "include/{name}_ring.h",
    "frontend/front.c.j2": "frontend/{name}front_core.c",
    "frontend/front.h.j2": "frontend/{name}front.h",
    "frontend/Kbuild.j2": "frontend/Kbuild",
    "frontend/Makefile.j2": "frontend/Makefile",
    "backend/back.c.j2": "backend/{name}back_core.c",
    "backend/back.h.j2": "backend/{name}back.h",
    "backend/Kbuild.j2": "backend/Kbuild",
    "backend/Makefile.j2": "backend/Makefile",
    "Makefile.j2": "Makefile",
    "dkms.conf.j2": "dkms.conf",
    "activate.sh.j2": "activate.sh",
    "deactivate.sh.j2": "deactivate.sh",
    "README.md.j2": "README.md",
}

#: Files that belong to the user: `xbgen new` writes them once, `xbgen
#: render` only creates them when they are missing and never overwrites them.
USER_OUTPUTS: dict[str, str] = {
    "frontend/user.c.j2": "frontend/{name}front_user.c",
    "backend/user.c.j2": "backend/{name}back_user.c",
}

SPEC_TEMPLATE = "spec.toml.j2"

#: Emitted files that must be executable.
EXECUTABLES = frozenset({"activate.sh", "deactivate.sh"})


def templates_dir() -> Path:
    """The templates shipped in the wheel, or the source checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "frontend" / "front.c.j2").is_file():
            return candidate
    raise XbgenError(f"xbgen is installed without its templates (looked in {here})")


#: Longest line checkpatch accepts.
C_MAX = 100


def c_proto(head: str, params: list[str], indent: int = 0) -> str:
    """A function head, its parameters wrapped and aligned to the open paren.

    A definition whose name is so long that the aligned parameters would
    pass 100 columns gets its return type on a line of its own.
    """
    text = _aligned(head, params, indent)
    widest = max(len(line.expandtabs(8)) + indent * 8 for line in text.splitlines())
    ret, _, name = head.rpartition(" ")
    if widest > C_MAX and indent == 0 and ret and "=" not in head:
        stars = len(name) - len(name.lstrip("*"))
        ret, name = ret + " " + name[:stars], name[stars:]
        return f"{ret.rstrip()}\n{_aligned(name, params, 0)}"
    return text


def _aligned(head: str, params: list[str], indent: int) -> str:
    base = indent * 8
    one_line = f"{head}({', '.join(params)})"
    if base + len(one_line) <= C_LINE:
        return one_line
    column = base + len(head) + 1
    pad = "\t" * (column // 8) + " " * (column % 8)
    lines: list[str] = []
    current, width = f"{head}({params[0]}", base + len(head) + 1 + len(params[0])
    for param in params[1:]:
        if width + 2 + len(param) + 1 <= C_LINE:
            current, width = f"{current}, {param}", width + 2 + len(param)
        else:
            lines.append(current + ",")
            current, width = pad + param, column + len(param)
    lines.append(current + ")")
    return "\n".join(lines)


#: A word for :func:`wrap`: a `quoted command` with what touches it, or a run of non-blanks.
_WORD = re.compile(r"(\s*)((?:[^\s`]*`[^`]*`)+[^\s`]*|\S+)")


def wrap(text: str, prefix: str = "", width: int = 77) -> str:
    """`text` in lines of at most `width` columns, each starting with `prefix`.

    A `quoted command` is never split across lines, and the spacing between
    words (two blanks after a sentence) is kept within a line.
    """
    lines: list[str] = []
    line = ""
    for blank, word in _WORD.findall(text):
        if line and len(prefix + line + blank + word) > width:
            lines.append(line)
            line = word
        else:
            line = line + blank + word if line else word
    lines.append(line)
    return "\n".join(prefix + item for item in lines)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates cached under the XDG cache dir (keyed by source checksum)."""
    try:
        folder = cache_dir() / f"jinja-{__version__}"
        folder.mkdir(exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do"],
    )
    env.globals["proto"] = c_proto
    env.filters["wrap"] = wrap
    return env


def context(spec: SpecInfo) -> dict[str, Any]:
    """Everything a template may use; later features add keys here."""
    ctx: dict[str, Any] = {
        "spec": spec,
        "front": spec.frontend_module,
        "back": spec.backend_module,
        "xbgen_version": __version__,
    }
    if spec.ring is not None:
        ctx["req"] = spec.ring.request_message
        ctx["rsp"] = spec.ring.response_message
    return ctx


def _render_one(template: str, ctx: dict[str, Any]) -> str:
    try:
        return environment().get_template(template).render(ctx)
    except jinja2.TemplateSyntaxError as exc:
        raise XbgenError(
            f"{exc.name or template}:{exc.lineno}: template error: {exc.message}"
        ) from None
    except jinja2.TemplateError as exc:
        raise XbgenError(f"{_template_line(exc, template)}: template error: {exc}") from None


def _template_line(exc: BaseException, template: str) -> str:
    """`template:line` Jinja was executing (it rewrites tracebacks to template lines)."""
    where = f"{template}:?"
    root = templates_dir()
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            path = Path(filename)
            name = path.relative_to(root) if path.is_relative_to(root) else path
            where = f"{name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def outputs(spec: SpecInfo) -> dict[str, str]:
    """template -> output path of the files xbgen owns in `spec`'s tree."""
    return RING_OUTPUTS if spec.ring is not None else OUTPUTS


def _render_all(spec: SpecInfo, templates: dict[str, str]) -> dict[str, str]:
    ctx = context(spec)
    return {
        out.format(name=spec.name): _render_one(template, ctx)
        for template, out in templates.items()
    }


def render(spec: SpecInfo) -> dict[str, str]:
    """Render every file xbgen owns in `spec`'s driver tree."""
    return _render_all(spec, outputs(spec))


def render_user(spec: SpecInfo) -> dict[str, str]:
    """The user-owned files as `xbgen new` first writes them (none without a ring)."""
    return {} if spec.ring is None else _render_all(spec, USER_OUTPUTS)


def render_spec_file(spec: SpecInfo) -> str:
    """The commented TOML that `xbgen new` writes."""
    return _render_one(SPEC_TEMPLATE, context(spec))
