"""The declarative spec: load a TOML file, validate it, report located errors.

A spec describes one Xen paravirtual device (a frontend/backend pair).  It is
read with :mod:`tomllib` and validated by pydantic models with
``extra="forbid"``, so a misspelt key is an error rather than silently ignored.
Every error is raised as :class:`~xbgen.errors.SpecError` with one line that
names the key and, where it can be found, the line in the TOML file.

The optional ``[ring]`` table (:class:`Ring`) adds the data path: one shared
ring of ``pages`` pages carrying the request and response messages its
``[ring.request]``/``[ring.response]`` tables declare, an event channel and
grants; ``[[feature]]`` entries (:class:`Feature`) are negotiated in xenstore.
The message layout (explicit padding, identical on 32- and 64-bit guests) is
computed here, by :class:`Message`, so templates and tests share one answer.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

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

#: Sizes of the scalar types a message field may have.
SCALARS: dict[str, int] = {
    "u8": 1,
    "u16": 2,
    "u32": 4,
    "u64": 8,
    "s8": 1,
    "s16": 2,
    "s32": 4,
    "s64": 8,
}
FIELD_TYPE_RE = re.compile(r"^(?P<base>[us](?:8|16|32|64))(?:\[(?P<count>[0-9]+)\])?$")
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Longest field name: room for the generated code's prefixes within 80 columns.
MAX_FIELD_NAME = 31
#: Largest array a field may be: one slot of a 16-page ring.
MAX_ARRAY = 4096
#: Names the generated message structs use themselves.
RESERVED_FIELDS = frozenset({"id"})
#: Ring sizes blkif-style multi-page negotiation allows (a power of two).
RING_PAGES = (1, 2, 4, 8, 16)
#: Xen's ring page size and the size of the shared ring's header
#: (req_prod, req_event, rsp_prod, rsp_event and 48 bytes of padding).
XEN_PAGE_SIZE = 4096
SRING_HEADER = 64
#: Longest device name whose ring driver stays within 100 columns.
RING_NAME_FITS = 20
#: Fewest request slots a ring must hold.
MIN_RING_SLOTS = 4
#: Largest number of negotiated features.
MAX_FEATURES = 32

#: A Debian upstream version as xbgen accepts it: a digit first, then digits,
#: letters, '.', '+' and '~'.  No '-' (the package appends its own revision)
#: and no ':' (an epoch is not part of the upstream version).
VERSION_RE = re.compile(r"^[0-9][A-Za-z0-9.+~]*$")
MAX_VERSION_LEN = 64

#: Where `xbgen package` installs activate.sh/deactivate.sh.
SCRIPTS = ("none", "sbin", "libexec")


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


def _check_text(value: str, utf8: bool = False) -> str:
    """Free text that lands inside a C string literal and a comment.

    `utf8` allows printable non-ASCII characters (in-tree MODULE_AUTHOR()
    lines carry names such as "Roger Pau Monné"); C sources are UTF-8.
    """
    if len(value) > 200:
        raise ValueError(f"is {len(value)} characters long; keep it under 200")
    for ch in value:
        if not ch.isprintable() or (not utf8 and not ch.isascii()):
            kind = "printable characters" if utf8 else "printable ASCII"
            raise ValueError(f"contains {ch!r}; use {kind} (it is emitted into C strings)")
    if "*/" in value or "\\" in value or '"' in value:
        raise ValueError('must not contain "*/", backslashes or double quotes')
    return value


Text = Annotated[str, Field(min_length=1)]


def _check_version(value: str) -> str:
    why = "it names /usr/src/NAME-VERSION and the Debian package NAME-dkms"
    if not value:
        raise ValueError(
            f"must not be empty; use a Debian upstream version such as '0.1.0' ({why})"
        )
    if len(value) > MAX_VERSION_LEN:
        raise ValueError(f"is {len(value)} characters long; at most {MAX_VERSION_LEN}")
    if ":" in value:
        raise ValueError(f"{value!r} has an epoch (':'); give the upstream version only")
    if "-" in value:
        raise ValueError(
            f"{value!r} contains '-': give the upstream version only; the Debian "
            "package appends its own revision (VERSION-1)"
        )
    if not VERSION_RE.match(value):
        raise ValueError(
            f"{value!r} is not a Debian upstream version: start with a digit, then use "
            f"digits, letters, '.', '+' or '~' ({why})"
        )
    return value


def _check_scripts(value: str) -> str:
    if value not in SCRIPTS:
        choices = ", ".join(repr(c) for c in SCRIPTS)
        raise ValueError(f"{value!r} is not one of {choices}")
    return value


def _check_field_name(value: str) -> str:
    if not FIELD_NAME_RE.match(value):
        raise ValueError(
            f"field name {value!r} is not a lower-case C identifier "
            "(start with a-z, then a-z, 0-9 or _)"
        )
    if len(value) > MAX_FIELD_NAME:
        raise ValueError(f"field name {value!r} is longer than {MAX_FIELD_NAME} characters")
    if value in RESERVED_FIELDS:
        raise ValueError(
            f"field name {value!r} is reserved: every request carries an id that its "
            "response echoes"
        )
    if value in C_KEYWORDS:
        raise ValueError(f"field name {value!r} is a C keyword")
    return value


def _check_field_type(value: str) -> str:
    m = FIELD_TYPE_RE.match(value)
    if not m:
        choices = " ".join(SCALARS)
        raise ValueError(
            f"unknown type {value!r}: use one of {choices}, or an array of one such as 'u16[3]'"
        )
    if m["count"] is not None and not 1 <= int(m["count"]) <= MAX_ARRAY:
        raise ValueError(f"array length in {value!r} must be between 1 and {MAX_ARRAY}")
    return value


FieldName = Annotated[str, AfterValidator(_check_field_name)]
FieldType = Annotated[str, AfterValidator(_check_field_type)]


class MessageField(NamedTuple):
    """One member of an emitted message struct (padding included)."""

    name: str
    base: str  # u8 .. s64
    count: int | None  # array length, None for a scalar
    offset: int
    pad: bool = False

    @property
    def size(self) -> int:
        return SCALARS[self.base] * (self.count or 1)

    @property
    def type(self) -> str:
        """The spec's spelling: 'u32', 'u8[16]'."""
        return self.base if self.count is None else f"{self.base}[{self.count}]"

    @property
    def declaration(self) -> str:
        """The C member declaration: 'u8 data[16]'."""
        suffix = "" if self.count is None else f"[{self.count}]"
        return f"{self.base} {self.name}{suffix}"


class Message(NamedTuple):
    """A laid-out message: members at their natural alignment, padded to 8 bytes.

    The id comes first; every field is placed at a multiple of its own size
    and the gaps are filled with explicit ``u8 _padN[]`` members, and the
    whole is padded to a multiple of 8.  So the layout does not depend on the
    ABI's alignment of u64 (4 on i386, 8 on x86_64): 32- and 64-bit guests
    see the same bytes.
    """

    fields: tuple[MessageField, ...]
    size: int

    @classmethod
    def layout(cls, declared: dict[str, str]) -> Message:
        out = [MessageField("id", "u64", None, 0)]
        offset, pads = 8, 0
        for name, spelled in declared.items():
            m = FIELD_TYPE_RE.match(spelled)
            assert m is not None, spelled
            base, count = m["base"], int(m["count"]) if m["count"] else None
            align = SCALARS[base]
            if offset % align:
                gap = align - offset % align
                out.append(MessageField(f"_pad{pads}", "u8", gap, offset, pad=True))
                pads, offset = pads + 1, offset + gap
            out.append(MessageField(name, base, count, offset))
            offset += SCALARS[base] * (count or 1)
        if offset % 8:
            gap = 8 - offset % 8
            out.append(MessageField(f"_pad{pads}", "u8", gap, offset, pad=True))
            offset += gap
        return cls(tuple(out), offset)

    @property
    def data_fields(self) -> tuple[MessageField, ...]:
        """The spec's own fields: no id, no padding."""
        return tuple(f for f in self.fields if not f.pad and f.name != "id")


def ring_slots(pages: int, entry_size: int) -> int:
    """Slots of a ring of `pages` pages, as __CONST_RING_SIZE computes them."""
    fit = (pages * XEN_PAGE_SIZE - SRING_HEADER) // entry_size
    return 1 << (fit.bit_length() - 1) if fit else 0


class Ring(BaseModel):
    """`[ring]`: a shared ring of requests and responses, an event channel, grants."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    pages: Literal[1, 2, 4, 8, 16] = Field(
        default=1,
        description=(
            "Ring size in pages. More than one is negotiated as blkif does: the backend "
            "advertises max-ring-page-order, the frontend writes ring-page-order and "
            "ring-ref0..N-1 (one page uses ring-ref)."
        ),
    )
    selftest: bool = Field(
        default=True,
        description="Emit the debugfs self-test /sys/kernel/debug/NAME/DEVID/selftest.",
    )
    request: dict[FieldName, FieldType] = Field(
        default_factory=dict,
        description="Request fields in order, name = type (u8..u64, s8..s64, arrays 'u8[16]').",
    )
    response: dict[FieldName, FieldType] = Field(
        default_factory=dict, description="Response fields in order, as for request."
    )

    @model_validator(mode="after")
    def _fits(self) -> Ring:
        slots = ring_slots(self.pages, self.entry_size)
        if slots < MIN_RING_SLOTS:
            raise ValueError(
                f"a message of {self.entry_size} bytes leaves {slots} slot(s) in a "
                f"{self.pages}-page ring; at least {MIN_RING_SLOTS} must fit: shrink the "
                "messages or raise pages"
            )
        return self

    @property
    def request_message(self) -> Message:
        return Message.layout(self.request)

    @property
    def response_message(self) -> Message:
        return Message.layout(self.response)

    @property
    def entry_size(self) -> int:
        return max(self.request_message.size, self.response_message.size)

    @property
    def slots(self) -> int:
        return ring_slots(self.pages, self.entry_size)

    @property
    def max_order(self) -> int:
        return self.pages.bit_length() - 1

    @property
    def echoed(self) -> tuple[str, ...]:
        """Response fields the default handler copies from the request."""
        request = {f.name: f.type for f in self.request_message.data_fields}
        return tuple(
            f.name for f in self.response_message.data_fields if request.get(f.name) == f.type
        )


class Feature(BaseModel):
    """`[[feature]]`: the backend advertises feature-NAME; the frontend reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    name: str = Field(description="C identifier; the xenstore key is feature-NAME, _ as -.")
    default: bool = Field(
        default=False, description="What the frontend assumes when the backend does not say."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FIELD_NAME_RE.match(value):
            raise ValueError(
                f"{value!r} is not a lower-case C identifier (start with a-z, then a-z, 0-9 or _)"
            )
        if len(value) > MAX_FIELD_NAME:
            raise ValueError(f"{value!r} is longer than {MAX_FIELD_NAME} characters")
        if value in C_KEYWORDS:
            raise ValueError(f"{value!r} is a C keyword")
        return value

    @property
    def key(self) -> str:
        return "feature-" + self.name.replace("_", "-")


class Spec(BaseModel):
    """One Xen split device: what `xbgen render` turns into a driver pair."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

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
    version: str = Field(
        default="0.1.0",
        description=(
            "Driver version (a Debian upstream version): PACKAGE_VERSION in dkms.conf, "
            "/usr/src/NAME-VERSION, and the package NAME-dkms VERSION-1 `xbgen package` builds."
        ),
    )
    # A str with an enum rather than a Literal: it changes no emitted C, so
    # the kernel build matrix (every Literal's values) need not multiply by it.
    scripts: str = Field(
        default="none",
        description=(
            "Where `xbgen package` installs activate.sh/deactivate.sh: 'none' (only with "
            "the sources in /usr/src/NAME-VERSION), 'sbin' (/usr/sbin/NAME-activate, "
            "NAME-deactivate) or 'libexec' (/usr/libexec/NAME/activate.sh, deactivate.sh)."
        ),
        json_schema_extra={"enum": list(SCRIPTS)},
    )
    ring: Ring | None = Field(
        default=None,
        description="The data path: shared ring, event channel, grants. Absent: handshake only.",
    )
    feature: list[Feature] = Field(
        default_factory=list,
        max_length=MAX_FEATURES,
        description="Features the backend advertises and the frontend negotiates ([[feature]]).",
    )

    @field_validator("feature")
    @classmethod
    def _features(cls, value: list[Feature], info: ValidationInfo) -> list[Feature]:
        if value and info.data.get("ring") is None:
            raise ValueError("[[feature]] needs a [ring] table: features are negotiated on connect")
        seen: set[str] = set()
        for entry in value:
            if entry.name in seen:
                raise ValueError(f"feature {entry.name!r} is declared twice")
            seen.add(entry.name)
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("description")
    @classmethod
    def _text(cls, value: str) -> str:
        return _check_text(value)

    @field_validator("author")
    @classmethod
    def _author(cls, value: str) -> str:
        return _check_text(value, utf8=True)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        return _check_version(value)

    @field_validator("scripts")
    @classmethod
    def _scripts(cls, value: str) -> str:
        return _check_scripts(value)

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
        if self.ring is not None and len(self.name) > RING_NAME_FITS:
            out.append(
                f"name: {self.name!r} is {len(self.name)} characters long; with a [ring] some "
                f"lines of the emitted C pass 100 columns beyond {RING_NAME_FITS} (checkpatch "
                "LONG_LINE)"
            )
        return out


#: The ring of the starter spec `xbgen new` writes.
STARTER_RING = {
    "pages": 1,
    "selftest": True,
    "request": {"op": "u32", "value": "u64", "data": "u8[16]"},
    "response": {"status": "s32", "value": "u64", "data": "u8[16]"},
}


def default_spec(name: str, ring: bool = True) -> Spec:
    """The spec `xbgen new NAME` starts from; a bad NAME is a SpecError.

    `ring=False` gives the handshake-only driver (no [ring] table).  Only
    NAME is checked: everything else is the defaults and STARTER_RING, which
    validate (a test holds that), so pydantic need not build its validators,
    the better part of the time `xbgen new` would spend on the spec.
    """
    try:
        _check_name(name)
    except ValueError as exc:
        raise SpecError(f"NAME {name!r}: {exc}") from None
    # Values for the default factories too: pydantic would inspect them.
    if not ring:
        return Spec.model_construct(name=name, feature=[])
    starter = {**STARTER_RING, "request": {**STARTER_RING["request"]},
               "response": {**STARTER_RING["response"]}}  # fmt: skip
    return Spec.model_construct(name=name, ring=Ring.model_construct(**starter), feature=[])


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
    import tomllib  # here: `xbgen new` reads no TOML

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
        loc = tuple(p for p in err["loc"] if p != "[key]")
        key = ".".join(str(p) for p in loc) or "(top level)"
        lineno = _key_line(text, loc) if loc else None
        where = f"{source}:{lineno}" if lineno else source
        lines.append(f"{where}: {key}: {_message(err)}")
    return "\n".join(lines)


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        loc = err.get("loc") or ()
        model: type[BaseModel] = Spec
        if len(loc) > 1 and loc[0] == "ring":
            model = Ring
        elif len(loc) > 2 and loc[0] == "feature":
            model = Feature
        known = ", ".join(model.model_fields)
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


_TABLE_RE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_ASSIGN_RE = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")


def _key_line(text: str, loc: tuple[str | int, ...] | str) -> int | None:
    """Line of the key at `loc` (('ring', 'request', 'data'), ('feature', 1, 'name')).

    Falls back to the nearest enclosing table or key that can be found: a
    model-level error in [ring] points at the [ring] header.
    """
    if isinstance(loc, str):
        loc = (loc,)
    want = tuple(str(p) for p in loc)
    best: tuple[int, int] | None = None  # (matched depth, line)
    table: tuple[str, ...] = ()
    counts: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        m = _TABLE_RE.match(line)
        if m:
            table = tuple(part.strip().strip("\"'") for part in m[2].split("."))
            if m[1] == "[[":
                index = counts.get(table, 0)
                counts[table] = index + 1
                table = (*table, str(index))
            path = table
        else:
            a = _ASSIGN_RE.match(line)
            if not a:
                continue
            path = (*table, a[1].strip("\"'"))
        depth = len(path)
        if path == want[:depth] and (best is None or depth > best[0]):
            best = (depth, number)
            if depth == len(want):
                break
        elif path[: len(want)] == want and (best is None or best[0] < len(want)):
            best = (len(want), number)  # a key inside the table named
    return best[1] if best else None


def json_schema() -> dict[str, Any]:
    return Spec.model_json_schema()
