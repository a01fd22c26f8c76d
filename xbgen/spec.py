"""The declarative spec: load a TOML file, validate it, report located errors.

A spec describes one Xen paravirtual device (a frontend/backend pair).  It is
read with :mod:`tomllib` and validated by pydantic models with
``extra="forbid"``, so a misspelt key is an error rather than silently ignored.
Every error is raised as :class:`~xbgen.errors.SpecError` with one line that
names the key and, where it can be found, the line in the TOML file.

Later features (event channels, a shared ring, grants, negotiated features)
are meant to arrive as further tables on :class:`Spec`; templates reach them
through the render context built in :mod:`xbgen.render`.
"""

from __future__ import annotations

import keyword
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import SpecError

#: ``struct xenbus_device_id.devicetype`` is ``char[32]``: 31 characters and a NUL.
MAX_NAME_LEN = 31

#: Largest domain id Xen hands out to a guest (DOMID_FIRST_RESERVED - 1).
MAX_DOMID = 0x7FEF

#: Device types that drivers in mainline Linux already bind to.
LINUX_DEVICE_TYPES = frozenset(
    {
        "vif",
        "vbd",
        "vkbd",
        "vfb",
        "pci",
        "vscsi",
        "vtpm",
        "9pfs",
        "pvcalls",
        "vsnd",
        "vdispl",
        "vusb",
        "console",
    }
)

C_KEYWORDS = frozenset(
    """auto break case char const continue default do double else enum extern float for
    goto if inline int long register restrict return short signed sizeof static struct
    switch typedef union unsigned void volatile while _Alignas _Alignof _Atomic _Bool
    _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local asm typeof bool
    true false nullptr alignas alignof constexpr static_assert thread_local""".split()
)

#: SPDX identifier -> the string MODULE_LICENSE() takes for it.  Only licenses
#: the kernel treats as GPL-compatible: the xenbus API is EXPORT_SYMBOL_GPL.
LICENSES: dict[str, str] = {
    "GPL-2.0-only": "GPL",
    "GPL-2.0-or-later": "GPL",
    "GPL-2.0-only OR MIT": "Dual MIT/GPL",
    "GPL-2.0-or-later OR MIT": "Dual MIT/GPL",
    "GPL-2.0-only OR BSD-2-Clause": "Dual BSD/GPL",
    "GPL-2.0-only OR BSD-3-Clause": "Dual BSD/GPL",
    "GPL-2.0-or-later OR BSD-3-Clause": "Dual BSD/GPL",
    "GPL-2.0-only OR MPL-1.1": "Dual MPL/GPL",
}

#: MODULE_LICENSE() spellings people write out of habit, and the SPDX id meant.
LICENSE_ALIASES: dict[str, str] = {
    "GPL": "GPL-2.0-only",
    "GPL v2": "GPL-2.0-only",
    "GPLv2": "GPL-2.0-only",
    "GPL-2.0": "GPL-2.0-only",
    "GPL-2.0+": "GPL-2.0-or-later",
    "Dual MIT/GPL": "GPL-2.0-only OR MIT",
    "Dual BSD/GPL": "GPL-2.0-only OR BSD-3-Clause",
    "Dual MPL/GPL": "GPL-2.0-only OR MPL-1.1",
}

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


#: What the backend does when asked for a state move its table lacks.
InvalidStatePolicy = Literal["warn", "bug"]


def _check_name(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_NAME_LEN:
        raise ValueError(
            f"is {len(value)} characters long; at most {MAX_NAME_LEN} fit "
            "struct xenbus_device_id.devicetype"
        )
    if not NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a lower-case C identifier (start with a-z, then a-z, 0-9 or _)"
        )
    if value in C_KEYWORDS or keyword.iskeyword(value):
        raise ValueError(f"{value!r} is a C keyword")
    return value


def _check_text(value: str) -> str:
    """Free text that lands inside a C string literal and a comment."""
    if len(value) > 200:
        raise ValueError(f"is {len(value)} characters long; keep it under 200")
    for ch in value:
        if not (ch.isprintable() and ch.isascii()):
            raise ValueError(f"contains {ch!r}; use printable ASCII (it is emitted into C strings)")
    if "*/" in value or "\\" in value or '"' in value:
        raise ValueError('must not contain "*/", backslashes or double quotes')
    return value


Text = Annotated[str, Field(min_length=1)]


class Spec(BaseModel):
    """One Xen split device: what `xbgen render` turns into a driver pair."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(
        description="Device type: the xenstore device type and the C/module name prefix."
    )
    description: Text = Field(
        default="Xen split driver example",
        description="One-line description, used in MODULE_DESCRIPTION().",
    )
    author: Text = Field(
        default="Your Name <you@example.com>",
        description="MODULE_AUTHOR() of both modules.",
    )
    license: str = Field(
        default="GPL-2.0-only",
        description="SPDX license id; must be GPL-compatible (the xenbus API is GPL-only).",
    )
    backend_domid: int = Field(
        default=0, ge=0, le=MAX_DOMID, description="Domain id that runs the backend."
    )
    devid: int = Field(
        default=0, ge=0, le=0xFFFF, description="Default device id used by activate.sh."
    )
    log_messages: bool = Field(
        default=True,
        description="Print the seed example's log lines (Hello World!, Probe called, ...).",
    )
    on_invalid_state: InvalidStatePolicy = Field(
        default="warn",
        description=(
            "The frontend shows a state the protocol does not allow (the guest owns that "
            "node): 'warn' reports it with xenbus_dev_fatal() and closes the device; 'bug' "
            "calls BUG() as the original example did, so any guest can crash the backend "
            "domain (xbgen verify reports it)."
        ),
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("description", "author")
    @classmethod
    def _text(cls, value: str) -> str:
        return _check_text(value)

    @field_validator("license")
    @classmethod
    def _license(cls, value: str) -> str:
        value = LICENSE_ALIASES.get(value, value)
        if value in LICENSES:
            return value
        choices = ", ".join(repr(k) for k in LICENSES)
        if "GPL" in value.upper():
            raise ValueError(f"{value!r} is not a license xbgen knows; use one of {choices}")
        raise ValueError(
            f"{value!r} is not GPL-compatible: the xenbus API (xenbus_register_frontend, "
            "xenbus_switch_state, ...) is exported GPL-only, so the kernel will not load "
            f"a module under another license; use one of {choices}"
        )

    @property
    def module_license(self) -> str:
        return LICENSES[self.license]

    @property
    def frontend_module(self) -> str:
        return f"{self.name}front"

    @property
    def backend_module(self) -> str:
        return f"{self.name}back"

    def warnings(self) -> list[str]:
        """Things that are valid but probably not what the user wants."""
        out = []
        if self.name in LINUX_DEVICE_TYPES:
            out.append(
                f"name: {self.name!r} is a device type Linux already drives; the in-tree "
                "driver may bind to these devices instead of yours"
            )
        return out


def default_spec(name: str) -> Spec:
    """The spec `xbgen new NAME` starts from; a bad NAME is a SpecError."""
    try:
        return Spec(name=name)
    except ValidationError as exc:
        raise SpecError(f"NAME {name!r}: {_message(exc.errors()[0])}") from None


# --------------------------------------------------------------------------- loading


def load_spec(path: Path) -> Spec:
    """Read and validate a spec file; every failure is one located SpecError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, expected a .toml spec file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_spec(raw, str(path))


def parse_spec(raw: bytes, source: str = "<spec>") -> Spec:
    """Validate spec bytes; `source` names the file in error messages."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{source}: not UTF-8 text (byte {exc.start}): a spec is a TOML file"
        ) from None
    if "\x00" in text:
        raise SpecError(f"{source}: contains NUL bytes: a spec is a TOML file")
    if not text.strip():
        raise SpecError(f'{source}: is empty; at least `name = "..."` is required')
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: invalid TOML: {exc}") from None
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_format_validation(exc, text, source)) from None


def _format_validation(exc: ValidationError, text: str, source: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lineno = _key_line(text, str(err["loc"][0])) if err["loc"] else None
        where = f"{source}:{lineno}" if lineno else source
        lines.append(f"{where}: {key}: {_message(err)}")
    return "\n".join(lines)


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        known = ", ".join(Spec.model_fields)
        return f"unknown key (known keys: {known})"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    if kind.endswith("_type"):
        got = type(err.get("input")).__name__
        msg = f"{msg} (got {_toml_type(got)})"
    return msg


def _toml_type(pytype: str) -> str:
    return {
        "str": "a string",
        "int": "an integer",
        "float": "a float",
        "bool": "a boolean",
        "list": "an array",
        "dict": "a table",
        "datetime": "a date-time",
        "date": "a date",
        "time": "a time",
    }.get(pytype, pytype)


def _key_line(text: str, key: str) -> int | None:
    """Line number of the first top-level assignment to `key` (or `[key]` table)."""
    pattern = re.compile(
        rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=|"""
        rf"""^\s*\[\s*{re.escape(key)}\s*\]"""
    )
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def json_schema() -> dict[str, Any]:
    return Spec.model_json_schema()
