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

The limits, the message layout and what the templates derive from a spec
live in :mod:`xbgen.specbase`, without pydantic (`xbgen new` renders the
starter spec from there); the models here inherit them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import SpecError
from .specbase import (
    BUFFER_DIRECTIONS,
    BUFFER_MAX,
    BUFFER_MIN,
    BUFFER_TRANSFERS,
    C_KEYWORDS,
    FIELD_NAME_RE,
    FIELD_TYPE_RE,
    LICENSE_ALIASES,
    LICENSES,
    MAP_MAX,
    MAX_ARRAY,
    MAX_DOMID,
    MAX_FEATURES,
    MAX_FIELD_NAME,
    MAX_VERSION_LEN,
    MIN_RING_SLOTS,
    RESERVED_FIELDS,
    SCALARS,
    SCRIPTS,
    SPEC_DEFAULTS,
    VERSION_RE,
    BufferInfo,
    RingInfo,
    SpecInfo,
    check_name,
    format_size,
    parse_size,
    ring_slots,
    starter,
)

# Imported from here by other modules and the tests.
from .specbase import NAME_RE as NAME_RE
from .specbase import RING_NAME_FITS as RING_NAME_FITS
from .specbase import STARTER_RING as STARTER_RING
from .specbase import Message as Message

#: What the backend does when asked for a state move its table lacks.
InvalidStatePolicy = Literal["warn", "bug"]


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


def _check_buffer_max(value: object) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(
            f"{value!r} is not a size: write bytes (an integer), 'NKiB' or 'NMiB' (e.g. '64KiB')"
        )
    size = parse_size(value)
    if not BUFFER_MIN <= size <= BUFFER_MAX:
        raise ValueError(
            f"{value!r} is {size} bytes; a buffer carries {format_size(BUFFER_MIN)} "
            f"to {format_size(BUFFER_MAX)}"
        )
    return value


class Buffer(BufferInfo, BaseModel):
    """`[ring.buffer]`: a buffer that travels by grant beside each request."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    max: Annotated[str | int, BeforeValidator(_check_buffer_max)] = Field(
        description=(
            "Largest buffer one call carries: bytes, 'NKiB' or 'NMiB', 4KiB to 4MiB. "
            "Up to 64KiB its grant references sit in the request; more go in "
            "indirect pages."
        ),
    )
    direction: str = Field(
        default="both",
        description=(
            "Which way the bytes go: 'to_backend' (granted read-only), 'from_backend' "
            "or 'both' (the backend reads the buffer and writes its answer into it)."
        ),
        json_schema_extra={"enum": list(BUFFER_DIRECTIONS)},
    )
    transfer: str = Field(
        default="copy",
        description=(
            "How the backend reaches the guest's pages: 'copy' (grant copy into and out "
            "of its own pages, as netback does) or 'map' (persistent grants, as blkback "
            "keeps them: each page mapped once per connection, then copied with memcpy; "
            "up to 256KiB)."
        ),
        json_schema_extra={"enum": list(BUFFER_TRANSFERS)},
    )

    @field_validator("direction")
    @classmethod
    def _direction(cls, value: str) -> str:
        if value not in BUFFER_DIRECTIONS:
            choices = ", ".join(repr(c) for c in BUFFER_DIRECTIONS)
            raise ValueError(f"{value!r} is not one of {choices}")
        return value

    @field_validator("transfer")
    @classmethod
    def _transfer(cls, value: str) -> str:
        if value not in BUFFER_TRANSFERS:
            choices = ", ".join(repr(c) for c in BUFFER_TRANSFERS)
            raise ValueError(f"{value!r} is not one of {choices}")
        return value

    @model_validator(mode="after")
    def _map_fits(self) -> Buffer:
        if self.transfer == "map" and self.max_bytes > MAP_MAX:
            raise ValueError(
                f"transfer = 'map' takes buffers up to {format_size(MAP_MAX)}, not "
                f"{self.max_text}: the backend keeps every page of a whole buffer in each "
                "ring slot mapped; use 'copy' for larger ones"
            )
        return self


class Ring(RingInfo, BaseModel):
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
    on_resume: Literal["fail", "reissue"] = Field(
        default="fail",
        description=(
            "What a call in flight when the guest is saved or migrated gets once it "
            "resumes: 'fail' (-ECONNRESET: it may or may not have run; every request "
            "runs at most once) or 'reissue' (sent again to the new backend, as blkfront "
            "does: for idempotent requests only, since the old backend may have run it)."
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
    buffer: Buffer | None = Field(
        default=None,
        description="A buffer that travels by grant beside each request ([ring.buffer]).",
    )

    @model_validator(mode="after")
    def _fits(self) -> Ring:
        if (
            self.buffer is not None
            and self.buffer.direction == "both"
            and (self.on_resume == "reissue")
        ):
            raise ValueError(
                'on_resume = "reissue" with a buffer that goes both ways: the old backend '
                "may have written its answer into the very pages the call would send again; "
                'use "fail", or a buffer that goes one way'
            )
        if self.buffer is not None:
            for kind, fields in (("request", self.request), ("response", self.response)):
                taken = [name for name in fields if name.startswith("buf_")]
                if taken:
                    raise ValueError(
                        f"{kind} field {taken[0]!r}: names starting with 'buf_' are the "
                        "buffer's own with a [ring.buffer] table"
                    )
        slots = ring_slots(self.pages, self.entry_size)
        if slots < MIN_RING_SLOTS:
            raise ValueError(
                f"a message of {self.entry_size} bytes leaves {slots} slot(s) in a "
                f"{self.pages}-page ring; at least {MIN_RING_SLOTS} must fit: shrink the "
                "messages or raise pages"
            )
        return self


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


class Spec(SpecInfo, BaseModel):
    """One Xen split device: what `xbgen render` turns into a driver pair."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    name: str = Field(
        description="Device type: the xenstore device type and the C/module name prefix."
    )
    description: Text = Field(
        default=SPEC_DEFAULTS["description"],
        description="One-line description, used in MODULE_DESCRIPTION().",
    )
    author: Text = Field(
        default=SPEC_DEFAULTS["author"],
        description="MODULE_AUTHOR() of both modules.",
    )
    license: str = Field(
        default=SPEC_DEFAULTS["license"],
        description="SPDX license id; must be GPL-compatible (the xenbus API is GPL-only).",
    )
    backend_domid: int = Field(
        default=SPEC_DEFAULTS["backend_domid"],
        ge=0,
        le=MAX_DOMID,
        description="Domain id that runs the backend.",
    )
    devid: int = Field(
        default=SPEC_DEFAULTS["devid"],
        ge=0,
        le=0xFFFF,
        description="Default device id used by activate.sh.",
    )
    log_messages: bool = Field(
        default=SPEC_DEFAULTS["log_messages"],
        description="Print the seed example's log lines (Hello World!, Probe called, ...).",
    )
    on_invalid_state: InvalidStatePolicy = Field(
        default=SPEC_DEFAULTS["on_invalid_state"],
        description=(
            "The frontend shows a state the protocol does not allow (the guest owns that "
            "node): 'warn' reports it with xenbus_dev_fatal() and closes the device; 'bug' "
            "calls BUG() as the original example did, so any guest can crash the backend "
            "domain (xbgen verify reports it)."
        ),
    )
    version: str = Field(
        default=SPEC_DEFAULTS["version"],
        description=(
            "Driver version (a Debian upstream version): PACKAGE_VERSION in dkms.conf, "
            "/usr/src/NAME-VERSION, and the package NAME-dkms VERSION-1 `xbgen package` builds."
        ),
    )
    # A str with an enum rather than a Literal: it changes no emitted C, so
    # the kernel build matrix (every Literal's values) need not multiply by it.
    scripts: str = Field(
        default=SPEC_DEFAULTS["scripts"],
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
        return check_name(value)

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


def default_spec(name: str, ring: bool = True) -> Spec:
    """The spec `xbgen new NAME` starts from, as a model; a bad NAME is a SpecError.

    `ring=False` gives the handshake-only driver (no [ring] table).  The
    values are :func:`xbgen.specbase.starter`'s: only NAME needs checking
    (the rest validate, a test holds that), so the model is constructed
    without building pydantic's validators.
    """
    values = vars(starter(name, ring))
    plain = values["ring"]
    ring_model = None if plain is None else Ring.model_construct(**vars(plain))
    return Spec.model_construct(**{**values, "ring": ring_model})


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
        if len(loc) > 2 and loc[:2] == ("ring", "buffer"):
            model = Buffer
        elif len(loc) > 1 and loc[0] == "ring":
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
